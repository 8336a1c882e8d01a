import { existsSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import fastifyStatic from '@fastify/static';
import type { ServerContext } from '../context.js';

/** The web playground, built by Vite into ui/dist and served as static files at `/`. */
export async function uiRoutes(app: FastifyInstance, context: ServerContext): Promise<void> {
  const dir = context.uiDir;
  if (dir && existsSync(dir)) {
    await app.register(fastifyStatic, { root: dir, prefix: '/', index: ['index.html'], wildcard: false, schemaHide: true });
    return;
  }
  app.get('/', { schema: { hide: true } }, async (_request, reply) =>
    reply
      .type('text/html')
      .send('<!doctype html><title>Vigil</title><p>The web UI is not built. Run <code>npm run build</code>. The API is at <a href="/docs">/docs</a>.</p>'),
  );
}
