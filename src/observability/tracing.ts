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

/** True between startTracing() with an endpoint configured and shutdown. */
export function tracingEnabled(): boolean {
  return active;
}

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

/** performance.now() when each batched input's engine call started (see markBatchStart). */
const batchStarts = new WeakMap<object, number>();

/**
 * Called by the batcher's engine callback with the inputs of one batch: remembers when their
 * engine call began, which splits each request's wait into queue time and inference time.
 * Returns the inputs unchanged; does nothing when tracing is off.
 */
export function markBatchStart<T>(items: T[]): T[] {
  if (!active) return items;
  const started = performance.now();
  for (const item of items) if (typeof item === 'object' && item !== null) batchStarts.set(item, started);
  return items;
}

export interface InferenceSpanLabels {
  model: string;
  version: string;
}

/**
 * Runs the part of a prediction that waits for the model: `batched` through the batcher
 * (recorded afterwards as a `vigil.queue` span then a `vigil.infer` span, split where the
 * batch's engine call began), or `remote` (a `vigil.remote_call` span, active during the
 * call). Children of the active request span. Calls `run` directly when tracing is off.
 */
export function traceInference<T>(labels: InferenceSpanLabels, kind: 'batched' | 'remote', inputs: unknown[], run: () => Promise<T>): Promise<T> {
  // Not an async function: with tracing off, no extra promise per request.
  return active ? traceActiveInference(labels, kind, inputs, run) : run();
}

async function traceActiveInference<T>(labels: InferenceSpanLabels, kind: 'batched' | 'remote', inputs: unknown[], run: () => Promise<T>): Promise<T> {
  const attributes = { 'vigil.model': labels.model, 'vigil.model_version': labels.version, 'vigil.inputs': inputs.length };
  if (kind === 'remote') {
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
  const submitted = performance.now();
  let failure: unknown;
  try {
    return await run();
  } catch (error) {
    failure = error;
    throw error;
  } finally {
    const finished = performance.now();
    const starts = inputs.map((i) => (typeof i === 'object' && i !== null ? batchStarts.get(i) : undefined)).filter((t): t is number => t !== undefined);
    // Inputs refused at admission never reached the engine: the whole wait was queueing.
    const engineStarted = starts.length > 0 ? Math.min(...starts) : finished;
    // Absolute epoch times: OTel re-bases relative performance.now() values per span, which
    // would leave a gap between the queue span's end and the infer span's start.
    const epoch = (t: number) => performance.timeOrigin + t;
    const queue = tracer().startSpan('vigil.queue', { attributes, startTime: epoch(submitted) });
    if (failure && starts.length === 0) queue.setStatus({ code: SpanStatusCode.ERROR, message: (failure as Error).message });
    queue.end(epoch(engineStarted));
    if (starts.length > 0) {
      const infer = tracer().startSpan('vigil.infer', { attributes, startTime: epoch(engineStarted) });
      if (failure) infer.setStatus({ code: SpanStatusCode.ERROR, message: (failure as Error).message });
      infer.end(epoch(finished));
    }
  }
}
