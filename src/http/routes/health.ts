import type { FastifyInstance } from 'fastify';
import type { ServerContext } from '../context.js';

const uptimeSeconds = (context: ServerContext) => Number(((Date.now() - context.lifecycle.startedAt) / 1000).toFixed(3));

/**
 * Three questions, three endpoints: is the process alive (never touches models), may it take
 * traffic (every local model loaded and warmed up, not shutting down), and does each model
 * really answer (`/health?deep=1`, one cheap real prediction per model).
 */
export async function healthRoutes(app: FastifyInstance, context: ServerContext): Promise<void> {
  const { registry, lifecycle } = context;

  app.get('/alive', { schema: { tags: ['health'], summary: 'Liveness: the process answers.' } }, async () => ({
    status: 'alive',
    uptime_seconds: uptimeSeconds(context),
  }));

  app.get('/ready', { schema: { tags: ['health'], summary: 'Readiness: 200 when every local model is loaded and warmed up, else 503.' } }, async (_request, reply) => {
    const ready = registry.ready && !lifecycle.draining;
    return reply.code(ready ? 200 : 503).send({
      ready,
      ...(lifecycle.draining ? { reason: 'shutting down' } : {}),
      models: registry.status(),
    });
  });

  app.get<{ Querystring: { deep?: string } }>(
    '/health',
    {
      schema: {
        tags: ['health'],
        summary: 'Liveness with details; ?deep=1 runs one real prediction per model.',
        querystring: { type: 'object', properties: { deep: { type: 'string', enum: ['0', '1', 'true', 'false'] } } },
      },
    },
    async (request, reply) => {
      const base = {
        status: 'ok',
        version: context.version,
        uptime_seconds: uptimeSeconds(context),
        ready: registry.ready && !lifecycle.draining,
        models: registry.status(),
      };
      const deep = request.query.deep === '1' || request.query.deep === 'true';
      if (!deep) return base;
      const checks = await Promise.all(
        registry.all().map(async (model) => {
          const started = performance.now();
          try {
            const prediction = await model.probe();
            return { name: model.name, version: model.version, required: model.isLocal, ok: true, latency_ms: performance.now() - started, prediction };
          } catch (error) {
            return { name: model.name, version: model.version, required: model.isLocal, ok: false, error: (error as Error).message };
          }
        }),
      );
      const healthy = checks.every((c) => c.ok || !c.required);
      return reply.code(healthy ? 200 : 503).send({ ...base, status: healthy ? 'ok' : 'failing', checks });
    },
  );
}
