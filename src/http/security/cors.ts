import type { FastifyInstance } from 'fastify';

/**
 * Cross-origin requests, off unless origins are configured (`--cors-origin`). Off, no response
 * carries an Access-Control-* header, so a browser lets no other origin read an answer nor send
 * a preflighted request (JSON bodies, Authorization). On, the listed origins may; credentials
 * (cookies) are never allowed, as Vigil uses none, and tokens travel in headers a page must set
 * itself.
 *
 * Entries are exact origins (`https://app.example`, scheme and port included) or `*`.
 */

const ALLOWED_METHODS = 'GET, HEAD, POST, PUT, PATCH, DELETE';
const ALLOWED_HEADERS = 'content-type, authorization, x-request-id, x-vigil-route-key, x-vigil-timeout-ms';
const EXPOSED_HEADERS = 'x-request-id, x-vigil-route, retry-after';
const PREFLIGHT_MAX_AGE_SECONDS = '600';

export function parseCorsOrigins(raw: readonly string[]): string[] {
  const origins = raw.flatMap((item) => item.split(',')).map((item) => item.trim()).filter(Boolean);
  for (const origin of origins) {
    if (origin === '*') continue;
    let parsed: URL;
    try {
      parsed = new URL(origin);
    } catch {
      throw new Error(`"${origin}" is not an origin (scheme://host[:port], like https://app.example)`);
    }
    if (parsed.origin !== origin.replace(/\/$/, '') || !/^https?:$/.test(parsed.protocol)) {
      throw new Error(`"${origin}" is not an origin: give scheme://host[:port] only, like ${parsed.origin}`);
    }
  }
  return origins.map((origin) => origin.replace(/\/$/, ''));
}

export function registerCors(app: FastifyInstance, origins: readonly string[]): void {
  if (origins.length === 0) return;
  const any = origins.includes('*');
  const allowed = new Set(origins);
  const allowedOrigin = (origin: string | undefined) => (origin === undefined ? undefined : any ? '*' : allowed.has(origin) ? origin : undefined);

  app.addHook('onRequest', (request, reply, done) => {
    const origin = allowedOrigin(request.headers.origin);
    // The answer depends on Origin: caches must not hand one origin's answer to another.
    if (!any) void reply.header('vary', 'Origin');
    if (origin) void reply.header('access-control-allow-origin', origin).header('access-control-expose-headers', EXPOSED_HEADERS);
    done();
  });

  // Preflights: any path, as a browser asks before the real request reaches its route.
  app.options('*', { schema: { hide: true } }, async (request, reply) => {
    const origin = allowedOrigin(request.headers.origin);
    if (origin && request.headers['access-control-request-method']) {
      void reply
        .header('access-control-allow-methods', ALLOWED_METHODS)
        .header('access-control-allow-headers', ALLOWED_HEADERS)
        .header('access-control-max-age', PREFLIGHT_MAX_AGE_SECONDS);
    }
    return reply.code(204).send();
  });
}
