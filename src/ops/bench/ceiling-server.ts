/**
 * The HTTP ceiling: fastify parsing the same JSON body and answering a constant prediction,
 * with the same prom-client request histogram Vigil keeps. No model: what the HTTP layer alone
 * can do on this machine.
 *
 *   node ceiling-server.js [port]     prints `LISTENING <url>`
 */
import Fastify from 'fastify';
import { listenForBench, runBenchHelper } from './helper-listen.js';
import { Histogram, Registry } from 'prom-client';
import { LATENCY_BUCKETS } from '../../observability/metrics.js';

async function main(): Promise<void> {
  const [port = '0'] = process.argv.slice(2);
  const registry = new Registry();
  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'Time from request received to response sent.',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  const app = Fastify();
  app.addHook('onResponse', async (request, reply) => {
    duration.observe({ method: request.method, route: request.routeOptions.url ?? '', status: String(reply.statusCode) }, reply.elapsedTime / 1000);
  });
  app.get('/ready', async () => ({ ready: true }));
  app.get('/metrics', async (_request, reply) => reply.type(registry.contentType).send(await registry.metrics()));
  app.post<{ Body: { text?: unknown } }>('/predict', async (request, reply) => {
    const text = request.body?.text;
    if (typeof text !== 'string' || text === '') return reply.code(400).send({ error: 'text must be a non-empty string' });
    return { label: 'POSITIVE', score: 0.99, scores: { NEGATIVE: 0.01, POSITIVE: 0.99 } };
  });
  await listenForBench(app, port);
}

runBenchHelper(main);
