import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { parentPort, workerData } from 'node:worker_threads';
import { HEALTH_ROUTES, type FromHealthThread, type HealthWorkerData, type Readiness, type ToHealthThread } from './health-state.js';

/**
 * The health port's thread (--health-port): its own event loop and its own listener, so a
 * server thread saturated by the request path cannot delay a probe. It knows only what the
 * server thread shares: the heartbeat in shared memory and the readiness it posts. Loads
 * node:http and health-state.js, nothing else.
 */

const data = workerData as HealthWorkerData;
const port = parentPort!;
const heartbeat = new BigInt64Array(data.heartbeat);
let readiness: Readiness = data.readiness;

port.on('message', (message: ToHealthThread) => {
  if (message.type === 'readiness') readiness = message.readiness;
});

const monotonicMs = (ns: bigint) => Number(ns / 1000n) / 1000;

function answer(request: IncomingMessage, response: ServerResponse): void {
  const path = (request.url ?? '/').split('?')[0]!;
  const route = HEALTH_ROUTES[path];
  let status: number;
  let body: Record<string, unknown>;
  if (!route) {
    status = 404;
    body = { error: { code: 'not_found', message: `the health port answers only ${Object.keys(HEALTH_ROUTES).join(', ')}; everything else is on the main port` } };
  } else if (request.method !== 'GET' && request.method !== 'HEAD') {
    status = 405;
    body = { error: { code: 'method_not_allowed', message: `${path} answers GET and HEAD only` } };
    response.setHeader('allow', 'GET, HEAD');
  } else {
    ({ status, body } = route({
      now: monotonicMs(process.hrtime.bigint()),
      heartbeat: monotonicMs(Atomics.load(heartbeat, 0)),
      uptimeSeconds: Number(((Date.now() - data.startedAt) / 1000).toFixed(3)),
      stallMs: data.stallMs,
      readiness,
    }));
  }
  const text = JSON.stringify(body);
  response.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  response.end(request.method === 'HEAD' ? undefined : text);
  // A probe sends nothing worth reading; a body is drained so the connection stays usable.
  request.resume();
}

const server = createServer({ requestTimeout: 10_000, headersTimeout: 5_000, keepAliveTimeout: 10_000 }, answer);
server.once('error', (error: NodeJS.ErrnoException) => {
  port.postMessage({ type: 'failed', code: error.code, message: error.message } satisfies FromHealthThread);
});
server.listen({ host: data.host, port: data.port }, () => {
  const address = server.address();
  port.postMessage({ type: 'listening', port: typeof address === 'object' && address ? address.port : data.port } satisfies FromHealthThread);
});
