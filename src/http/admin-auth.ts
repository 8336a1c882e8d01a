import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { VigilError } from '../errors.js';
import type { Logger } from '../observability/logger.js';

/**
 * Guards the endpoints that change what the server serves (the model repository and routing APIs) with one
 * shared admin token: `VIGIL_ADMIN_TOKEN`, sent as `Authorization: Bearer <token>`. Without a
 * token they are off (403 naming the variable), as Triton ships model control off: an open
 * unload endpoint on a server bound to a network is an outage anyone can cause. The token is
 * never logged; comparisons take the same time whatever the guess.
 */

export const ADMIN_TOKEN_ENV = 'VIGIL_ADMIN_TOKEN';

export class Unauthorized extends VigilError {
  constructor(message: string) {
    super(401, 'unauthorized', message);
  }
}

/** Hashing first gives equal-length buffers, so timingSafeEqual also hides the token's length. */
const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();

export function tokenMatches(presented: string, expected: string): boolean {
  return timingSafeEqual(digest(presented), digest(expected));
}

/** The bearer token of an Authorization header, or undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header ?? '');
  return match?.[1];
}

/** No admin token is configured: the admin API is off. */
export class AdminDisabled extends VigilError {
  constructor() {
    super(403, 'admin_disabled', `the admin API is off: start the server with ${ADMIN_TOKEN_ENV} set to a secret, then send "Authorization: Bearer <token>"`);
  }
}

export type AdminGuard = (request: FastifyRequest, reply: FastifyReply) => Promise<void>;

/**
 * A route hook (onRequest) that lets a request through only when it carries the admin token;
 * with no token configured it refuses every request (403).
 */
export function adminGuard(token: string | undefined): AdminGuard {
  return async (request, reply) => {
    if (!token) throw new AdminDisabled();
    const presented = bearerToken(request.headers.authorization);
    if (presented === undefined || !tokenMatches(presented, token)) {
      void reply.header('www-authenticate', 'Bearer realm="vigil-admin"');
      throw new Unauthorized(
        presented === undefined
          ? `this endpoint needs "Authorization: Bearer <token>" with the server's admin token (${ADMIN_TOKEN_ENV})`
          : 'the admin token is wrong',
      );
    }
  };
}

/** The configured token; empty or whitespace counts as unset (an empty token would protect nothing). */
export function adminTokenFromEnv(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const token = env[ADMIN_TOKEN_ENV]?.trim();
  return token ? token : undefined;
}

/** Says at startup why the admin endpoints will answer 403 (the token itself is never logged). */
export function warnIfUnprotected(token: string | undefined, logger: Logger, what: string): void {
  if (!token) logger.info(`${ADMIN_TOKEN_ENV} is not set: ${what} is off (403) until it is`);
}

/**
 * Admin clients post actions without a body, or with `-H content-type: application/json` and
 * none: in this plugin's scope an empty JSON body means "no options" instead of a 400.
 */
export function acceptEmptyJsonBodies(app: FastifyInstance): void {
  const json = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (typeof body === 'string' && body.trim() === '') return done(null, undefined);
    return json(request, body as string, done);
  });
}
