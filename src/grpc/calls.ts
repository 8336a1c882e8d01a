import { randomUUID } from 'node:crypto';
import { Metadata, status, type handleUnaryCall, type ServerUnaryCall, type sendUnaryData } from '@grpc/grpc-js';
import { DeadlineExceeded, InvalidInput } from '../errors.js';
import { requestIdFrom } from '../http/observe.js';
import type { Logger } from '../observability/logger.js';
import { traceGrpcCall } from '../observability/tracing.js';
import { withLazySignal } from '../serving/lazy-signal.js';
import type { GrpcMetrics } from './grpc-metrics.js';
import { isMalformed, MALFORMED } from './malformed.js';
import { grpcCodeOf, statusName, toServiceError } from './status.js';

/**
 * One unary gRPC call as the handlers see it, and the wrapper that gives every call what REST
 * requests get from fastify's hooks: a request id (the client's `x-request-id` metadata when it
 * is safe to log, else a new one; sent back in the trailers), its deadline as a timeout, a
 * cancellation signal, metrics by method and status code, a SERVER span, and one log line.
 */

export interface CallInfo {
  requestId: string;
  /** Milliseconds left before the client's deadline; undefined when it set none. */
  timeoutMs?: number;
  /** Aborted when the client cancels the call or its deadline passes. */
  readonly signal: AbortSignal;
  /** A metadata value the client sent (first one), e.g. `x-vigil-route-key`. */
  header(name: string): string | undefined;
  /** Trailing metadata sent with the answer (x-request-id is always there). */
  trailers: Metadata;
}

export interface CallDeps {
  metrics: GrpcMetrics;
  logger: Logger;
}

/** The client's deadline as a Date.now() time; undefined when it set none. */
function deadlineOf(call: ServerUnaryCall<unknown, unknown>): number | undefined {
  const deadline = call.getDeadline();
  const at = deadline instanceof Date ? deadline.getTime() : deadline;
  return Number.isFinite(at) ? at : undefined;
}

function firstValue(metadata: Metadata, name: string): string | undefined {
  const value = metadata.get(name)[0];
  return typeof value === 'string' ? value : value === undefined ? undefined : value.toString('utf8');
}

export function unary<Req, Res>(deps: CallDeps, service: string, method: string, handle: (request: Req, call: CallInfo) => Res | Promise<Res>): handleUnaryCall<Req, Res> {
  const { metrics, logger } = deps;
  const started = metrics.started.labels({ grpc_service: service, grpc_method: method, grpc_type: 'unary' });
  metrics.declare(service, method, 'unary');
  // This method's handled counter and histogram by status code, looked up once per code.
  const seriesByCode: ReturnType<GrpcMetrics['finished']>[] = [];
  return (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => {
    const begun = performance.now();
    started.inc();
    metrics.inFlight.inc();
    const requestId = requestIdFrom(firstValue(call.metadata, 'x-request-id'), randomUUID);
    const deadline = deadlineOf(call as ServerUnaryCall<unknown, unknown>);
    const timeoutMs = deadline === undefined ? undefined : deadline - Date.now();
    let controller: AbortController | undefined;
    let cancelled = call.cancelled;
    // grpc-js emits 'cancelled' when the client cancels, the deadline passes or the stream breaks.
    call.on('cancelled', () => {
      cancelled = true;
      controller?.abort(new Error('the client cancelled the call'));
    });
    const trailers = new Metadata();
    trailers.set('x-request-id', requestId);
    const info: CallInfo = withLazySignal({ requestId, timeoutMs, trailers, header: (name: string) => firstValue(call.metadata, name) }, () => {
      controller = new AbortController();
      if (cancelled) controller.abort(new Error('the client cancelled the call'));
      return controller.signal;
    });
    let finished = false;
    const finish = (code: status, error?: unknown) => {
      if (finished) return;
      finished = true;
      metrics.inFlight.dec();
      const elapsed = performance.now() - begun;
      const name = statusName(code);
      const series = (seriesByCode[code] ??= metrics.finished(service, method, name));
      series.count();
      series.observe(elapsed / 1000);
      const fields = { rpc: `${service}/${method}`, grpc_code: name, latency_ms: Number(elapsed.toFixed(3)), request_id: requestId };
      if (code === status.INTERNAL || code === status.UNKNOWN) logger.error({ ...fields, err: error }, 'grpc call failed');
      else logger.info(fields, 'grpc call');
    };
    // grpc-js ends a call whose deadline passed itself (DEADLINE_EXCEEDED to the client) and
    // reports it as cancelled: tell the two apart for the metrics and the log.
    // (grpc-js's deadline timer runs on whole milliseconds: allow one.)
    const abandoned = () => (deadline !== undefined && Date.now() + 1 >= deadline ? status.DEADLINE_EXCEEDED : status.CANCELLED);
    // Not an async function: the handler's own promise is passed on, one promise fewer per call.
    const run = (): Promise<Res> => {
      try {
        if (timeoutMs !== undefined && timeoutMs <= 0) throw new DeadlineExceeded('the call arrived past its deadline; it was not run');
        if (isMalformed(call.request)) throw new InvalidInput(`the ${method} request is not a valid protobuf message: ${call.request[MALFORMED]}`);
        return Promise.resolve(handle(call.request, info));
      } catch (error) {
        return Promise.reject(error);
      }
    };
    traceGrpcCall(service, method, () => call.metadata.getMap(), requestId, run, grpcCodeOf).then(
      (response) => {
        // A call the client already gave up on gets no answer (grpc-js would drop it anyway).
        const code = cancelled ? abandoned() : status.OK;
        finish(code);
        if (!cancelled) callback(null, response, trailers);
      },
      (error: unknown) => {
        const serviceError = toServiceError(error, requestId);
        const code = cancelled ? abandoned() : (serviceError.code ?? status.INTERNAL);
        finish(code, error);
        if (!cancelled) callback(serviceError, null);
      },
    );
  };
}
