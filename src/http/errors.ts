import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Overloaded, VigilError } from '../errors.js';
import type { ShedLog } from '../observability/shed-log.js';
import type { AllowedMethods } from './allowed-methods.js';

/** Fastify's own client-error codes, mapped to Vigil's stable codes. */
const FASTIFY_CODES: Record<string, string> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'invalid_json',
  FST_ERR_CTP_INVALID_JSON_BODY: 'invalid_json',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'invalid_request',
  FST_ERR_VALIDATION: 'invalid_request',
};

/** The Open Inference Protocol wants `{"error": "..."}`; the rest of the API `{"error": {code, message}}`. */
export function isOipPath(url: string): boolean {
  return url === '/v2' || url.startsWith('/v2/') || url.startsWith('/v2?');
}

/** The body of an error answer: the Open Inference Protocol's `{error}` on its paths, Vigil's own elsewhere. */
export function errorBody(url: string, code: string, message: string, requestId: string): { error: string } | { error: { code: string; message: string; request_id: string } } {
  return isOipPath(url) ? { error: message } : { error: { code, message, request_id: requestId } };
}

export function sendError(request: FastifyRequest, reply: FastifyReply, status: number, code: string, message: string): FastifyReply {
  return reply.code(status).send(errorBody(request.url, code, message, request.id));
}

/** Fastify's own messages for these say what, not what to do about it. */
function clientMessage(error: FastifyError, request: FastifyRequest, bodyLimit: number): string {
  switch (error.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return `unsupported Content-Type "${request.headers['content-type'] ?? ''}": send application/json`;
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return `the body is too large: the limit is ${bodyLimit} bytes`;
    default:
      return error.message;
  }
}

function describe(
  error: FastifyError | VigilError | Error,
  request: FastifyRequest,
  bodyLimit: number,
): { status: number; code: string; message: string; retryAfter?: number } {
  if (error instanceof VigilError) {
    return { status: error.status, code: error.code, message: error.message, retryAfter: error.details.retryAfterSeconds };
  }
  const fastifyError = error as FastifyError;
  if (error instanceof SyntaxError || fastifyError.code === 'FST_ERR_CTP_INVALID_JSON_BODY') {
    return { status: 400, code: 'invalid_json', message: `the body is not valid JSON: ${error.message}` };
  }
  const status = fastifyError.statusCode;
  if (status !== undefined && status >= 400 && status < 500) {
    return { status, code: FASTIFY_CODES[fastifyError.code ?? ''] ?? 'invalid_request', message: clientMessage(fastifyError, request, bodyLimit) };
  }
  return { status: 500, code: 'internal_error', message: 'the server failed to handle the request; see its logs for the request id' };
}

/** Refusals that say "not now" (503 + Retry-After) and cost the server nothing to repeat. */
const REFUSAL_CODES: ReadonlySet<string> = new Set(['overloaded', 'circuit_open', 'upstream_rate_limited']);

function isRefusal(error: unknown): boolean {
  return error instanceof VigilError && error.status === 503 && (error instanceof Overloaded || REFUSAL_CODES.has(error.code));
}

/** One place where every failure becomes a JSON answer that says whose fault it was. */
export function registerErrorHandlers(app: FastifyInstance, bodyLimit: number, shedLog?: ShedLog, allowed?: AllowedMethods): void {
  app.setErrorHandler((error: FastifyError | VigilError | Error, request, reply) => {
    const { status, code, message, retryAfter } = describe(error, request, bodyLimit);
    if (isRefusal(error)) {
      // A full queue or an open circuit is a refusal like the door's: no stack trace, no line
      // of its own, one summary line per second (ShedLog); the counters carry each one.
      request.vigilShed = true;
      shedLog?.record(code);
    } else if (status >= 500 && error instanceof VigilError) {
      // A state the server knows (not ready, deadline, upstream failed): what, not where. The
      // request's child logger already writes request_id (a second one made the line's JSON
      // carry the key twice).
      request.log.warn({ code, message }, 'request failed');
    } else if (status >= 500) {
      request.log.error({ err: error }, 'request failed');
    }
    if (retryAfter !== undefined) void reply.header('retry-after', String(retryAfter));
    return sendError(request, reply, status, code, message);
  });
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0]!;
    const methods = allowed?.of(path) ?? [];
    if (methods.length > 0) {
      void reply.header('allow', methods.join(', '));
      return sendError(request, reply, 405, 'method_not_allowed', `${path} does not answer ${request.method}: use ${methods.join(', ')}`);
    }
    return sendError(request, reply, 404, 'not_found', `no route ${request.method} ${path}`);
  });
}
