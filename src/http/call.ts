import type { FastifyReply, FastifyRequest } from 'fastify';
import type { InferenceCall } from '../serving/dataplane.js';
import { withLazySignal } from '../serving/lazy-signal.js';
import type { RouteKind } from '../serving/routing-metrics.js';
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
export function httpCall<Payload>(
  request: FastifyRequest,
  reply: FastifyReply,
  model: string,
  version: string | undefined,
  payload: Payload,
  onRoute?: (route: RouteKind) => void,
): InferenceCall<Payload> {
  // Never spread this object: the signal is not an own property (lazy-signal.ts).
  return withLazySignal(
    { model, version, payload, routeKey: requestRouteKey(request), requestId: request.id, timeoutMs: requestTimeoutMs(request), onRoute },
    () => disconnectSignal(reply),
  );
}
