import type { FastifyInstance } from 'fastify';
import type { ServerContext } from '../context.js';

export async function metricsRoutes(app: FastifyInstance, context: ServerContext): Promise<void> {
  app.get('/metrics', { schema: { tags: ['monitoring'], summary: 'Prometheus metrics (text exposition format).' } }, async (_request, reply) => {
    const body = await context.metrics.render();
    return reply.header('content-type', context.metrics.contentType).send(body);
  });
}
