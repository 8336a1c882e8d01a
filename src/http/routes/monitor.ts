import type { FastifyInstance } from 'fastify';
import { HistorySampler, historyOptionsFromEnv } from '../../observability/history.js';
import type { ServerContext } from '../context.js';
import { jsonErrors } from '../schemas/common.js';

const number = { type: 'number' } as const;

/** The response shape the web UI's Monitor tab draws; declared so fast-json-stringify keeps to it. */
const historySchema = {
  type: 'object',
  required: ['interval_seconds', 'points'],
  properties: {
    interval_seconds: number,
    points: {
      type: 'array',
      items: {
        type: 'object',
        required: ['t', 'requests_per_second', 'error_ratio', 'cpu_ratio', 'rss_bytes', 'event_loop_lag_seconds', 'predictions'],
        properties: {
          t: { type: 'integer', description: 'End of the interval, epoch milliseconds.' },
          requests_per_second: number,
          error_ratio: number,
          latency_p50_seconds: { ...number, description: 'Omitted when no request finished in the interval.' },
          latency_p95_seconds: number,
          latency_p99_seconds: number,
          cpu_ratio: { ...number, description: 'CPU seconds per second (1 = one core).' },
          rss_bytes: number,
          event_loop_lag_seconds: number,
          predictions: {
            type: 'object',
            description: 'Predictions made in the interval: {model: {label: count}}.',
            additionalProperties: { type: 'object', additionalProperties: number },
          },
        },
      },
    },
  },
} as const;

/**
 * `GET /v1/monitor/history`: the last ~15 minutes of golden signals sampled in-process. The
 * sampler lives and dies with the app (onReady/onClose), so tests and `vigil serve` alike get
 * it without extra wiring. Interval and window: VIGIL_HISTORY_INTERVAL_SECONDS (default 5),
 * VIGIL_HISTORY_WINDOW_SECONDS (default 900).
 */
export async function monitorRoutes(app: FastifyInstance, context: ServerContext): Promise<void> {
  const sampler = new HistorySampler(context.metrics.registry, historyOptionsFromEnv(process.env));
  app.addHook('onReady', async () => sampler.start());
  app.addHook('onClose', async () => sampler.stop());

  app.get(
    '/v1/monitor/history',
    {
      schema: {
        tags: ['monitoring'],
        summary: 'Recent in-process history of traffic, errors, latency, CPU, memory and predictions.',
        response: { 200: historySchema, ...jsonErrors() },
      },
    },
    async () => sampler.history(),
  );
}
