import type { FastifyInstance } from 'fastify';
import type { Dataplane } from '../../serving/dataplane.js';
import type { ServerContext } from '../context.js';
import { health as schemas } from '../schemas/json-api.js';

/** The `/ready` body, also what the health port mirrors (src/http/health-listener.ts). */
export function readinessBody(dataplane: Dataplane): { ready: boolean; reason?: string; models: ReturnType<Dataplane['status']> } {
  return {
    ready: dataplane.ready,
    ...(dataplane.draining ? { reason: 'shutting down' } : {}),
    models: dataplane.status(),
  };
}

const uptimeSeconds = (context: ServerContext) => Number(((Date.now() - context.lifecycle.startedAt) / 1000).toFixed(3));

/**
 * Three questions, three endpoints: is the process alive (never touches models), may it take
 * traffic (every local model loaded and warmed up, not shutting down), and does each model
 * really answer (`/health?deep=1`, one cheap real prediction per model).
 */
export async function healthRoutes(app: FastifyInstance, context: ServerContext): Promise<void> {
  const { dataplane } = context;

  app.get('/alive', { schema: schemas.alive }, async () => ({
    status: 'alive',
    uptime_seconds: uptimeSeconds(context),
  }));

  app.get('/ready', { schema: schemas.ready }, async (_request, reply) => {
    const body = readinessBody(dataplane);
    return reply.code(body.ready ? 200 : 503).send(body);
  });

  app.get<{ Querystring: { deep?: string } }>(
    '/health',
    { schema: schemas.health },
    async (request, reply) => {
      const base = {
        status: 'ok',
        version: context.version,
        uptime_seconds: uptimeSeconds(context),
        ready: dataplane.ready,
        models: dataplane.status(),
      };
      const deep = request.query.deep === '1' || request.query.deep === 'true';
      if (!deep) return base;
      const { healthy, checks } = await dataplane.deepHealth();
      return reply.code(healthy ? 200 : 503).send({ ...base, status: healthy ? 'ok' : 'failing', checks });
    },
  );
}
