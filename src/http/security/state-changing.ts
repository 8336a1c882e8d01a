import type { FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import { sendError } from '../errors.js';

/**
 * The endpoints that change what the server serves or what it measures: the model repository
 * (index included, as Triton makes it a POST), every routing change, and delayed labels.
 * They take JSON or no body at all. A web page can make a browser send a cross-site POST
 * without asking first (no CORS preflight) only with the "simple" types: text/plain,
 * application/x-www-form-urlencoded, multipart/form-data, or a body with no type at all.
 * Refusing those with 415 before the body is read means no HTML form, and no `fetch` in
 * `no-cors` mode, reaches one of these. A POST with neither body nor Content-Type stays
 * accepted: Triton's repository clients send that, and it carries nothing a page could forge
 * past the admin token.
 */

const STATE_CHANGING_ROUTES: readonly { methods: readonly string[]; url: RegExp }[] = [
  { methods: ['POST'], url: /^\/v2\/repository\// },
  { methods: ['PUT', 'PATCH', 'POST', 'DELETE'], url: /^\/v1\/models\/:[^/]+\/routing(\/|$)/ },
  { methods: ['POST'], url: /^\/v1\/feedback$/ },
];

/** Route option a plugin sets to put a new route under this rule: `config: { stateChanging: true }`. */
export interface StateChangingConfig {
  stateChanging?: boolean;
}

export function isStateChanging(route: Pick<RouteOptions, 'method' | 'url' | 'config'>): boolean {
  if ((route.config as StateChangingConfig | undefined)?.stateChanging === true) return true;
  const methods = Array.isArray(route.method) ? route.method : [route.method];
  return STATE_CHANGING_ROUTES.some((entry) => entry.url.test(route.url) && methods.some((m) => entry.methods.includes(m.toUpperCase())));
}

/** The media type of a Content-Type header, lower case, without parameters. */
export function mediaType(header: string): string {
  return header.split(';', 1)[0]!.trim().toLowerCase();
}

function hasBody(request: FastifyRequest): boolean {
  const length = request.headers['content-length'];
  return request.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/** An onRequest hook: 415 unless the body is JSON or there is none. */
export function requireJsonBody(request: FastifyRequest, reply: FastifyReply, done: () => void): void {
  const declared = request.headers['content-type'];
  if (declared === undefined ? !hasBody(request) : mediaType(declared) === 'application/json') return done();
  const message =
    declared === undefined
      ? 'this endpoint changes the server\'s state and takes only JSON: send "Content-Type: application/json" with the body'
      : `Content-Type "${declared.slice(0, 100)}" is refused here: this endpoint changes the server's state and takes only application/json (a form or a cross-site page cannot send that without a CORS preflight)`;
  void sendError(request, reply, 415, 'unsupported_media_type', message);
}
