import type { FastifyReply, FastifyRequest } from 'fastify';
import type { InferenceCall } from '../serving/dataplane.js';
import { requestTimeoutMs } from './deadline.js';
import { requestRouteKey } from './route-key.js';

/** Aborted when the client closes the connection before its answer was sent (at once if it already has). */
export function disconnectSignal(reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  const abort = () => {
    if (!reply.raw.writableFinished) controller.abort(new Error('the client closed the connection'));
  };
  if (reply.raw.closed) abort();
  else reply.raw.once('close', abort);
  return controller.signal;
}

/**
 * A dataplane call's target and control from an HTTP request: the route key (body "route_key"
 * or header x-vigil-route-key), the deadline (x-vigil-timeout-ms or body "timeout_ms"), the
 * request id, and the disconnect signal, made only when read: only remote calls read it, and an
 * AbortController plus a close listener for every request to a local model was a few percent of
 * the server thread serving a small model.
 */
export function httpCall<Payload>(request: FastifyRequest, reply: FastifyReply, model: string, version: string | undefined, payload: Payload): InferenceCall<Payload> {
  let signal: AbortSignal | undefined;
  // Never spread this object: spreading reads the getter and makes the signal for every request.
  return {
    model,
    version,
    payload,
    routeKey: requestRouteKey(request),
    requestId: request.id,
    timeoutMs: requestTimeoutMs(request),
    get signal() {
      return (signal ??= disconnectSignal(reply));
    },
  };
}
