import type { FastifyRequest } from 'fastify';
import { InvalidInput } from '../errors.js';

/**
 * The sticky key of a predict request: whatever identifies the caller's user or session. Hashed
 * with the split (src/serving/traffic-split.ts), it keeps one key on one version for as long as
 * the weights stay, across requests and replicas. Sent as the header `x-vigil-route-key` (easy
 * for a gateway to add) or the body field `"route_key"`; the body wins, since the application
 * knows its user better than a proxy in front of it. Never logged: it may be a user id.
 */

export const ROUTE_KEY_HEADER = 'x-vigil-route-key';
export const ROUTE_KEY_FIELD = 'route_key';
/** Which way the router chose: champion, canary or explicit (docs/releases.md). */
export const ROUTE_HEADER = 'x-vigil-route';
const MAX_ROUTE_KEY_LENGTH = 256;

function checkRouteKey(raw: unknown, where: string): string {
  if (typeof raw !== 'string' || raw.length === 0 || raw.length > MAX_ROUTE_KEY_LENGTH) {
    const got = typeof raw === 'string' ? `${raw.length} characters` : raw === null ? 'null' : typeof raw;
    throw new InvalidInput(`${where} must be a string of 1 to ${MAX_ROUTE_KEY_LENGTH} characters (a user or session id), got ${got}`, 'invalid_route_key');
  }
  return raw;
}

export function requestRouteKey(request: FastifyRequest): string | undefined {
  const body = request.body;
  if (typeof body === 'object' && body !== null && !Array.isArray(body) && ROUTE_KEY_FIELD in body) {
    return checkRouteKey((body as Record<string, unknown>)[ROUTE_KEY_FIELD], `"${ROUTE_KEY_FIELD}"`);
  }
  const header = request.headers[ROUTE_KEY_HEADER];
  if (header === undefined) return undefined;
  return checkRouteKey(Array.isArray(header) ? header.join(',') : header, `header ${ROUTE_KEY_HEADER}`);
}
