/**
 * Preload (`NODE_OPTIONS=--import <this file>`) that records which npm packages the server
 * thread loads, CommonJS and ES modules alike, and writes their names as a JSON array to
 * $VIGIL_RECORD_PACKAGES when the process exits. Worker threads are not recorded: the
 * inference workers load onnxruntime on purpose. With $VIGIL_RECORD_WORKERS, it also writes
 * there how many worker threads the process started (Node publishes each one on the
 * `worker_threads` diagnostics channel), released or not.
 */
import { subscribe } from 'node:diagnostics_channel';
import { writeFileSync } from 'node:fs';
import Module, { register } from 'node:module';
import { isMainThread, MessageChannel } from 'node:worker_threads';

const packageOf = (file) => /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(file)?.[1];

/** Module-loader hook side (runs on the loader's own thread): reports each ES module's URL. */
let hookPort;
export function initialize(data) {
  hookPort = data.port;
}
export async function load(url, context, nextLoad) {
  hookPort?.postMessage(url);
  return nextLoad(url, context);
}

if (isMainThread && process.env.VIGIL_RECORD_PACKAGES) {
  const seen = new Set();
  const note = (file) => {
    const name = packageOf(file);
    if (name) seen.add(name);
  };
  const { port1, port2 } = new MessageChannel();
  port1.on('message', (url) => note(decodeURIComponent(String(url))));
  port1.unref();
  register(import.meta.url, { data: { port: port2 }, transferList: [port2] });
  const compile = Module.prototype._compile;
  Module.prototype._compile = function (content, filename) {
    note(filename);
    return compile.call(this, content, filename);
  };
  let workers = 0;
  subscribe('worker_threads', () => workers++);
  process.once('exit', () => {
    writeFileSync(process.env.VIGIL_RECORD_PACKAGES, JSON.stringify([...seen].sort()));
    if (process.env.VIGIL_RECORD_WORKERS) writeFileSync(process.env.VIGIL_RECORD_WORKERS, String(workers));
  });
}
