import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// The playground is served by Vigil itself from ui/dist (src/http/routes/ui.ts), so asset URLs
// are relative (base './') and nothing is fetched from any other origin at run time.
const root = fileURLToPath(new URL('.', import.meta.url));

// `vite --config ui/vite.config.ts` for UI work: API calls go to a `vigil serve` on port 8000.
const api = process.env.VIGIL_URL ?? 'http://127.0.0.1:8000';
const proxied = ['/v1', '/predict', '/ready', '/alive', '/health', '/metrics', '/docs'];

export default defineConfig({
  root,
  base: './',
  publicDir: 'public',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // One small bundle: no code splitting needed for a handful of tabs.
    assetsInlineLimit: 8192,
  },
  server: {
    proxy: Object.fromEntries(proxied.map((prefix) => [prefix, { target: api, changeOrigin: false }])),
  },
});
