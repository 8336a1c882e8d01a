import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Where a worker thread's entry file is, given its path under dist/ (e.g. `runtimes/onnx/worker.js`).
 * Run unbundled from dist/, it is beside the module that starts it; from the bundle
 * (dist/cli/serve.js) or from src/ under the tests, it is the built file in the nearest dist/
 * above. `what` names the worker in the error when it has not been built.
 */
export function workerFile(callerUrl: string, distPath: string, what: string): string {
  const here = path.dirname(fileURLToPath(callerUrl));
  const sibling = path.join(here, path.basename(distPath));
  if (existsSync(sibling)) return sibling;
  for (let dir = here; ; dir = path.dirname(dir)) {
    const built = path.join(dir, 'dist', ...distPath.split('/'));
    if (existsSync(built)) return built;
    if (path.dirname(dir) === dir) break;
  }
  throw new Error(`the ${what} is not built (no ${sibling}, nor dist/${distPath} above it): run npm run build`);
}
