import { ROOT_CONTEXT, SpanKind, SpanStatusCode, context, propagation, trace } from '@opentelemetry/api';
import type { FastifyInstance } from 'fastify';

/**
 * OpenTelemetry traces: one SERVER span per HTTP request, with child spans for the time an
 * input waited in the batch queue, the engine call that served it, and remote API calls.
 * Exported over OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT (or ..._TRACES_ENDPOINT) is set.
 *
 * Off by default and then free: the SDK and exporter are imported dynamically only when
 * tracing is configured; without them nothing here does more than read a boolean. Only the
 * tiny `@opentelemetry/api` is loaded statically (prom-client loads it anyway).
 */

const TRACER_NAME = 'vigil';
let active = false;

export function tracingConfigured(env: NodeJS.ProcessEnv): boolean {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return false;
  if (env.OTEL_TRACES_EXPORTER?.trim().toLowerCase() === 'none') return false;
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim() || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim());
}

export interface Tracing {
  enabled: boolean;
  /** Flushes spans not yet exported and stops the exporter. */
  shutdown(): Promise<void>;
}

const DISABLED: Tracing = { enabled: false, shutdown: async () => undefined };

/**
 * Sets up the global tracer provider when configured. The exporter reads the standard
 * OTEL_EXPORTER_OTLP_* variables itself (endpoint, headers, timeout); the batch processor
 * reads OTEL_BSP_*; OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES name the resource.
 */
export async function startTracing(options: { serviceVersion: string; env?: NodeJS.ProcessEnv }): Promise<Tracing> {
  const env = options.env ?? process.env;
  if (!tracingConfigured(env) || active) return DISABLED;
  const [{ NodeTracerProvider, BatchSpanProcessor }, { OTLPTraceExporter }, resources, semconv] = await Promise.all([
    import('@opentelemetry/sdk-trace-node'),
    import('@opentelemetry/exporter-trace-otlp-http'),
    import('@opentelemetry/resources'),
    import('@opentelemetry/semantic-conventions'),
  ]);
  const resource = resources
    .resourceFromAttributes({ [semconv.ATTR_SERVICE_NAME]: 'vigil', [semconv.ATTR_SERVICE_VERSION]: options.serviceVersion })
    // OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES override the defaults above.
    .merge(resources.detectResources({ detectors: [resources.envDetector] }));
  const provider = new NodeTracerProvider({ resource, spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter())] });
  // Global provider, AsyncLocalStorage context manager and W3C trace-context propagator.
  provider.register();
  active = true;
  return {
    enabled: true,
    shutdown: async () => {
      active = false;
      await provider.shutdown();
      trace.disable();
      context.disable();
      propagation.disable();
    },
  };
}

const tracer = () => trace.getTracer(TRACER_NAME);

/** Shared, so a log line without a span allocates nothing for it (never written to: frozen). */
const NO_TRACE_FIELDS: Record<string, string> = Object.freeze({});

/** `trace_id`/`span_id` of the active span for every log line (pino mixin); nothing when off. */
export function traceLogFields(): Record<string, string> {
  if (!active) return NO_TRACE_FIELDS;
  const span = trace.getActiveSpan();
  if (!span) return NO_TRACE_FIELDS;
  const { traceId, spanId } = span.spanContext();
  return { trace_id: traceId, span_id: spanId };
}

/**
 * Fastify hooks that open a SERVER span per request (continuing the caller's trace from a
 * `traceparent` header) and make it the active context for the route and everything it
 * awaits, so child spans and log lines attach to it. Registers nothing when tracing is off.
 */
export function traceRequests(app: FastifyInstance, unmatchedRoute: string): void {
  if (!active) return;
  app.addHook('onRequest', (request, reply, done) => {
    const parent = propagation.extract(ROOT_CONTEXT, request.headers);
    const route = request.routeOptions.url ?? unmatchedRoute;
    const span = tracer().startSpan(
      `${request.method} ${route}`,
      {
        kind: SpanKind.SERVER,
        attributes: { 'http.request.method': request.method, 'http.route': route, 'vigil.request_id': request.id },
      },
      parent,
    );
    // The response's 'close' comes for every request, answered or abandoned mid-stream (when
    // fastify's onResponse never runs), so the span always ends.
    reply.raw.once('close', () => {
      span.setAttribute('http.response.status_code', reply.raw.statusCode);
      if (reply.raw.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      if (!reply.raw.writableFinished) span.setAttribute('vigil.client_aborted', true);
      span.end();
    });
    // Everything fastify runs after this callback inherits the span's context.
    context.with(trace.setSpan(parent, span), done);
  });
}

export interface InferenceSpanLabels {
  model: string;
  version: string;
}

/** The moments of one call the spans are drawn from (a CallTimeline, src/serving/timeline.ts). */
export interface InferenceMarks {
  queued: number | undefined;
  batchStart: number | undefined;
  batchEnd: number | undefined;
  failed: number | undefined;
}

/**
 * Runs a remote model's call inside a `vigil.remote_call` span (CLIENT, active during the call so
 * the upstream request joins the trace), a child of the active request span. Calls `run`
 * directly when tracing is off.
 */
export function traceRemoteCall<T>(labels: InferenceSpanLabels, inputs: number, run: () => Promise<T>): Promise<T> {
  // Not an async function: with tracing off, no extra promise per request.
  return active ? traceActiveRemoteCall(labels, inputs, run) : run();
}

async function traceActiveRemoteCall<T>(labels: InferenceSpanLabels, inputs: number, run: () => Promise<T>): Promise<T> {
  const attributes = { 'vigil.model': labels.model, 'vigil.model_version': labels.version, 'vigil.inputs': inputs };
  return tracer().startActiveSpan('vigil.remote_call', { kind: SpanKind.CLIENT, attributes }, async (span) => {
    try {
      return await run();
    } catch (error) {
      span.recordException(error as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
      throw error;
    } finally {
      span.end();
    }
  });
}

/**
 * Records a batched call's spans after the fact, from its timeline: `vigil.queue` from entering
 * the queue to the first engine call holding one of its inputs, then `vigil.infer` to the end of
 * the last. Inputs refused at admission or dropped at their deadline never reached the engine:
 * the whole wait was queueing, and the queue span carries the error. Nothing when tracing is off.
 */
export function recordBatchedSpans(labels: InferenceSpanLabels, inputs: number, marks: InferenceMarks, failure?: unknown): void {
  if (!active || marks.queued === undefined) return;
  const attributes = { 'vigil.model': labels.model, 'vigil.model_version': labels.version, 'vigil.inputs': inputs };
  const finished = marks.batchEnd ?? marks.failed ?? performance.now();
  const engineStarted = marks.batchStart ?? finished;
  // Absolute epoch times: OTel re-bases relative performance.now() values per span, which
  // would leave a gap between the queue span's end and the infer span's start.
  const epoch = (t: number) => performance.timeOrigin + t;
  const message = failure === undefined ? undefined : (failure as Error).message;
  const queue = tracer().startSpan('vigil.queue', { attributes, startTime: epoch(marks.queued) });
  if (failure !== undefined && marks.batchStart === undefined) queue.setStatus({ code: SpanStatusCode.ERROR, message });
  queue.end(epoch(engineStarted));
  if (marks.batchStart !== undefined) {
    const infer = tracer().startSpan('vigil.infer', { attributes, startTime: epoch(engineStarted) });
    if (failure !== undefined) infer.setStatus({ code: SpanStatusCode.ERROR, message });
    infer.end(epoch(finished));
  }
}

/**
 * A SERVER span around one gRPC call (continuing the caller's trace from its `traceparent`
 * metadata), active while `run` and everything it awaits runs, so inference spans and log
 * lines attach to it. `run` is called directly when tracing is off.
 */
export function traceGrpcCall<T>(
  service: string,
  method: string,
  /** The call's metadata as a map, asked for only when tracing is on (building it costs per call). */
  metadata: () => Record<string, unknown>,
  requestId: string,
  run: () => Promise<T>,
  codeOf: (error: unknown) => number,
): Promise<T> {
  if (!active) return run();
  const parent = propagation.extract(ROOT_CONTEXT, metadata());
  const span = tracer().startSpan(
    `${service}/${method}`,
    { kind: SpanKind.SERVER, attributes: { 'rpc.system': 'grpc', 'rpc.service': service, 'rpc.method': method, 'vigil.request_id': requestId } },
    parent,
  );
  return context.with(trace.setSpan(parent, span), async () => {
    try {
      const result = await run();
      span.setAttribute('rpc.grpc.status_code', 0);
      return result;
    } catch (error) {
      const code = codeOf(error);
      span.setAttribute('rpc.grpc.status_code', code);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
      throw error;
    } finally {
      span.end();
    }
  });
}
