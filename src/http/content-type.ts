import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { VigilError } from '../errors.js';
import { BINARY_HEADER, isBinaryRequest } from './binary-tensors.js';

/**
 * Which request bodies each endpoint takes, by Content-Type, in one place.
 *
 * - `oip-infer` (POST /v2/models/{name}[/versions/{v}]/infer): JSON, no Content-Type at all (what
 *   tritonclient.http and KServe's REST client send), or `application/octet-stream` without
 *   `Inference-Header-Content-Length` (JSON in a binary-extension envelope with no binary part).
 * - `state-changing` (routing changes, feedback): JSON, or no body and no Content-Type.
 *   Everything else is 415 before the body is read, because the CORS-"simple" types
 *   (text/plain, forms, a body without a type) are what a cross-site page can make a browser
 *   send without a preflight.
 * - `oip-repository` (POST /v2/repository/...): as `state-changing`, except that a body without
 *   Content-Type is read as JSON: tritonclient.http's load_model posts `{}` and unload_model
 *   `{"parameters": {"unload_dependents": false}}`, both without one. That opens nothing a
 *   bodiless POST (accepted everywhere) does not: these bodies carry no option a cross-site
 *   page could use, and the admin token, when set, already needs a preflight.
 * - `json` (every other route with a body: /predict, /v1/models/{name}/predict, ...): JSON, or
 *   no Content-Type (read as JSON). A declared non-JSON type, text/plain included, is 415.
 *
 * "JSON" is application/json or any `+json` type, with any parameters (charset). A new route is
 * `json` unless `bodyPolicyOf` says otherwise; its route config can say so too:
 * `config: { bodyPolicy: 'state-changing' }` (or security's `config: { stateChanging: true }`).
 */

export type BodyPolicy = 'json' | 'oip-infer' | 'oip-repository' | 'state-changing';

export { BINARY_HEADER };

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

const OIP_REPOSITORY = /^\/v2\/repository\//;
const STATE_CHANGING: readonly { methods: readonly string[]; url: RegExp }[] = [
  { methods: ['PUT', 'PATCH', 'POST', 'DELETE'], url: /^\/v1\/models\/:[^/]+\/routing(\/|$)/ },
  { methods: ['POST'], url: /^\/v1\/feedback$/ },
];
const OIP_INFER = /^\/v2\/models\/:[^/]+(\/versions\/:[^/]+)?\/infer$/;

/** The policy of a route, from its method and URL template (`/v2/models/:name/infer`). */
export function bodyPolicyOf(method: string, url: string, config?: { bodyPolicy?: BodyPolicy; stateChanging?: boolean }): BodyPolicy {
  const declared = config?.bodyPolicy;
  if (declared) return declared;
  if (config?.stateChanging === true) return 'state-changing';
  const upper = method.toUpperCase();
  if (upper === 'POST' && OIP_REPOSITORY.test(url)) return 'oip-repository';
  if (STATE_CHANGING.some((entry) => entry.methods.includes(upper) && entry.url.test(url))) return 'state-changing';
  if (upper === 'POST' && OIP_INFER.test(url)) return 'oip-infer';
  return 'json';
}

/** The media type of a Content-Type header: lower case, without parameters. */
export function mediaType(header: string): string {
  return header.split(';', 1)[0]!.trim().toLowerCase();
}

export function isJsonType(media: string): boolean {
  return media === 'application/json' || (media.startsWith('application/') && media.endsWith('+json'));
}

/** Whether the request announces a body (a length above 0, or chunked). */
export function hasBody(request: Pick<FastifyRequest, 'headers'>): boolean {
  const length = request.headers['content-length'];
  return request.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

export type BodyVerdict =
  /** Parsed by the JSON parser (declared JSON), or no body to parse. */
  | { accept: 'as-declared' }
  /** No JSON Content-Type, but the body is JSON all the same. */
  | { accept: 'as-json' }
  | { refuse: string };

/** The rule itself, free of fastify: what to do with this request's body. */
export function judgeBody(policy: BodyPolicy, headers: FastifyRequest['headers'], bodyAnnounced: boolean): BodyVerdict {
  const declared = headers['content-type'];
  if (declared === undefined) {
    if (!bodyAnnounced) return { accept: 'as-declared' };
    if (policy === 'state-changing') {
      return { refuse: 'this endpoint changes the server\'s state and takes only JSON: send "Content-Type: application/json" with the body' };
    }
    return { accept: 'as-json' };
  }
  const media = mediaType(declared);
  if (isJsonType(media)) return { accept: 'as-declared' };
  // The binary tensor extension's header decides, whatever the declared type (a cross-site form
  // cannot send that header without a CORS preflight): src/http/binary-tensors.ts reads the body.
  if (policy === 'oip-infer' && headers[BINARY_HEADER] !== undefined) return { accept: 'as-declared' };
  const shown = declared.slice(0, 100);
  if (policy === 'oip-infer') {
    if (media === 'application/octet-stream') return { accept: 'as-json' };
    return { refuse: `unsupported Content-Type "${shown}": send JSON tensors as application/json (or with no Content-Type)` };
  }
  if (policy === 'state-changing' || policy === 'oip-repository') {
    return { refuse: `Content-Type "${shown}" is refused here: this endpoint changes the server's state and takes only application/json (a form or a cross-site page cannot send that without a CORS preflight)` };
  }
  return { refuse: `unsupported Content-Type "${shown}": send application/json` };
}

export class UnsupportedMediaType extends VigilError {
  constructor(message: string) {
    super(415, 'unsupported_media_type', message);
  }
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Which bodies the route takes; set for every route with a body by registerBodyPolicy. */
    bodyPolicy?: BodyPolicy;
  }
}

/**
 * Applies the rule to every route of the app: refuses with 415 in onRequest, before the body is
 * read, and parses the bodies it accepts without a JSON type as JSON. Register on the root
 * instance before the route plugins (content-type parsers are inherited when a plugin starts).
 */
export function registerBodyPolicy(app: FastifyInstance): void {
  // Fastify reads text/plain as a string by default; nothing here takes text, and a string body
  // would reach the handlers as a confusing 400 instead of a 415.
  app.removeContentTypeParser('text/plain');
  const json = app.getDefaultJsonParser('error', 'error');
  // '*' is every type without a parser of its own, and a body without a Content-Type.
  // Read as bytes: a binary tensor extension body (src/http/binary-tensors.ts) is not text.
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (request, body, done) => {
    const policy = request.routeOptions.config.bodyPolicy ?? 'json';
    const verdict = judgeBody(policy, request.headers, true);
    if ('refuse' in verdict) return done(new UnsupportedMediaType(verdict.refuse), undefined);
    // The extension's header decides, whatever the Content-Type: the route decodes the bytes.
    if (policy === 'oip-infer' && isBinaryRequest(request.headers)) return done(null, body);
    if (verdict.accept === 'as-declared') {
      // The binary extension's header with a type nobody parses: the route's own hook has answered already.
      return done(new UnsupportedMediaType(`unsupported Content-Type "${String(request.headers['content-type'] ?? '').slice(0, 100)}"`), undefined);
    }
    return json(request, (body as Buffer).toString('utf8'), done);
  });
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    const withBody = methods.filter((method) => BODY_METHODS.has(method.toUpperCase()));
    if (withBody.length === 0) return;
    const policy = bodyPolicyOf(withBody[0]!, route.url, route.config);
    route.config = { ...route.config, bodyPolicy: policy };
    const check = (request: FastifyRequest, reply: FastifyReply, done: (error?: Error) => void) => {
      const verdict = judgeBody(policy, request.headers, hasBody(request));
      done('refuse' in verdict ? new UnsupportedMediaType(verdict.refuse) : undefined);
    };
    // After the route's own hooks (the admin token answers first: an anonymous caller learns
    // nothing about the route), still before the body is read.
    const own = route.onRequest === undefined ? [] : Array.isArray(route.onRequest) ? route.onRequest : [route.onRequest];
    route.onRequest = [...own, check] as typeof route.onRequest;
  });
}
