import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Refusal } from '../serving/admission.js';
import type { ServerContext } from './context.js';
import { UNBOUNDED_PATHS } from './door.js';
import { sendError } from './errors.js';

const SHED = 'vigilShed';

declare module 'fastify' {
  interface FastifyRequest {
    /** Refused at the door: observe.ts counts it but leaves its log line to the shed summary. */
    [SHED]: boolean;
  }
}

/** Seconds a client is told to wait when the server is shutting down (another replica answers). */
const SHUTDOWN_RETRY_AFTER_S = 1;

/** Inference routes count against their model's bound: the JSON API's predict and OIP's infer. */
function isInference(request: FastifyRequest, route: string): boolean {
  return request.method === 'POST' && (route.endsWith('/predict') || route.endsWith('/infer'));
}

/**
 * The HTTP side of admission (src/serving/admission.ts) within fastify: a model's bound as
 * soon as the body is in (the process bound comes earlier, in door.ts). Also where draining
 * shows: while the server drains every answer says `Connection: close`, and once the listener
 * has closed, requests still arriving on open connections get a 503 with Retry-After instead
 * of fastify's bare one.
 */
export function registerAdmission(app: FastifyInstance, context: ServerContext): void {
  const { admission, shedLog, lifecycle, metrics, registry, refusalPause } = context;
  app.decorateRequest(SHED, false);
  // In onSend, not onRequest: requests admitted before the drain began must say it too.
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (lifecycle.draining) void reply.header('connection', 'close');
    done(null, payload);
  });
  app.addHook('onRequest', (request, reply, done) => {
    const route = request.routeOptions.url;
    if (route !== undefined && UNBOUNDED_PATHS.has(route)) {
      done();
      return;
    }
    if (lifecycle.closing) {
      request[SHED] = true;
      metrics.shed.inc({ model: '', version: '', reason: 'shutting_down' });
      shedLog.record('shutting_down');
      void reply.header('retry-after', String(SHUTDOWN_RETRY_AFTER_S));
      sendError(request, reply, 503, 'shutting_down', `the server is shutting down; retry after ${SHUTDOWN_RETRY_AFTER_S} s (another replica will answer)`);
      return;
    }
    // The process bound was checked before fastify saw the request (door.ts).
    done();
  });
  // A model's bound once the body is in (a withheld body must not hold a model's slot).
  app.addHook('preValidation', (request, reply, done) => {
    const model = inferenceModel(request, request.routeOptions.url);
    if (model === undefined) {
      done();
      return;
    }
    const refusal = admission.admitModel(model);
    if (refusal) {
      refuse(request, reply, refusal, model);
      return;
    }
    reply.raw.once('close', () => admission.releaseModel(model));
    done();
  });

  function inferenceModel(request: FastifyRequest, route: string | undefined): string | undefined {
    if (route === undefined || !isInference(request, route)) return undefined;
    return (request.params as { name?: string } | undefined)?.name ?? registry.defaultModelName;
  }

  function refuse(request: FastifyRequest, reply: FastifyReply, refusal: Refusal, model: string | undefined): void {
    request[SHED] = true;
    // Only served models become label values: the name comes from the request's path.
    const known = model !== undefined && registry.has(model) ? model : undefined;
    metrics.shed.inc({ model: known ?? '', version: '', reason: refusal.reason });
    shedLog.record(refusal.reason, known);
    void reply.header('retry-after', String(refusal.retryAfterSeconds));
    sendError(request, reply, 503, 'overloaded', refusal.message);
    refusalPause.afterRefusal(reply.raw, refusal.retryAfterSeconds);
  }
}
