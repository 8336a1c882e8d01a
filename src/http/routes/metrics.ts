import type { FastifyInstance } from 'fastify';
import type { ServerContext } from '../context.js';
import { metrics as schemas } from '../schemas/json-api.js';

export async function metricsRoutes(app: FastifyInstance, context: ServerContext): Promise<void> {
  app.get('/metrics', { schema: schemas }, async (_request, reply) => {
    const body = await context.metrics.render();
    return reply.header('content-type', context.metrics.contentType).send(body);
  });
}
