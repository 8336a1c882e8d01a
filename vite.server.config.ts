import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

/**
 * Bundles what `vigil serve` loads at start — tsc's output for src/cli/serve.ts and everything
 * it imports from src, plus typebox — into one file that replaces dist/cli/serve.js. typebox
 * ships ~680 ES modules for the schema builder and Value.Check alone, and Node's loader
 * resolving, reading and compiling them one by one was the largest part of start-up (measured:
 * importing the serve command ~0.75-1.0 s of CPU unbundled, ~0.35 s bundled). The other
 * packages stay external: they are few files each, and some find their own files at run time
 * (native addons, swagger-ui's assets, pino's worker streams). Run after `tsc`, which emits
 * the unbundled tree (the other commands, the inference worker, the benchmark servers).
 *
 * dist/cli/ is as deep as dist/config/, so PACKAGE_ROOT (two folders up from its module) and
 * the inference worker's lookup (src/runtimes/onnx/session.ts) hold in the bundle too.
 */
const root = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root,
  logLevel: 'warn',
  // An SSR build leaves every package external unless listed here.
  ssr: { noExternal: ['typebox'] },
  build: {
    ssr: 'dist/cli/serve.js',
    outDir: 'dist/cli',
    emptyOutDir: false,
    copyPublicDir: false,
    target: 'node20',
    minify: false,
    sourcemap: true,
    rolldownOptions: { output: { entryFileNames: 'serve.js', codeSplitting: false } },
  },
});
