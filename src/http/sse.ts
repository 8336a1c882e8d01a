import { PassThrough } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { VigilError } from '../errors.js';
import type { PreparedStream } from '../serving/dataplane.js';
import { disconnectSignal } from './call.js';

/**
 * `"stream": true` on a predict request: the answer is server-sent events.
 *
 *   event: token   data: {"text": "<delta>"}         (zero or more)
 *   event: done    data: <the non-streaming answer>  (exactly one of done / error)
 *   event: error   data: {"error": {"code", "message", "request_id"}}
 *
 * The status line is sent with the first event, not before, so that a failure before any
 * token (not configured, circuit open, upstream down) still carries its true status (503,
 * 504...) and Retry-After, with the same SSE body. Bad requests (400/404) are refused before
 * streaming starts, as plain JSON errors like every other route.
 */

export function wantsStream(body: unknown): boolean {
  return typeof body === 'object' && body !== null && (body as { stream?: unknown }).stream === true;
}

function sseEvent(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** Streams a prepared call (Dataplane.prepareStream: already checked and routed) as server-sent events. */
export async function streamPrediction(request: FastifyRequest, reply: FastifyReply, prepared: PreparedStream): Promise<FastifyReply> {
  const signal = disconnectSignal(reply);
  const body = new PassThrough();
  // Fastify destroys the body when the client goes away; later events have nowhere to go.
  const emit = (event: string, data: unknown) => {
    if (!body.destroyed) body.write(sseEvent(event, data));
  };
  let open!: (head: { status: number; retryAfter?: number }) => void;
  const opened = new Promise<{ status: number; retryAfter?: number }>((resolve) => (open = resolve));

  void prepared
    .run((text) => {
      open({ status: 200 });
      emit('token', { text });
    }, signal)
    .then(
      (routed) => {
        open({ status: 200 });
        const about = { model: routed.model.name, version: routed.model.version, request_id: request.id };
        emit('done', { ...routed.result, ...about, ...(routed.fallback ? { fallback: routed.fallback } : {}) });
      },
      (error: unknown) => {
        const known = error instanceof VigilError;
        const status = known ? error.status : 500;
        const code = known ? error.code : 'internal_error';
        const message = known ? error.message : 'the server failed to handle the request; see its logs for the request id';
        if (status >= 500 && code !== 'client_closed') request.log.error({ err: error }, 'streamed request failed');
        open({ status, retryAfter: known ? error.details.retryAfterSeconds : undefined });
        emit('error', { error: { code, message, request_id: request.id } });
      },
    )
    .finally(() => body.end());

  const head = await opened;
  void reply
    .code(head.status)
    .header('content-type', 'text/event-stream; charset=utf-8')
    .header('cache-control', 'no-cache, no-transform')
    .header('x-accel-buffering', 'no');
  if (head.retryAfter !== undefined) void reply.header('retry-after', String(head.retryAfter));
  return reply.send(body);
}
