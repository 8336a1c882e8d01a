import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { boundCounter, boundHistogram } from './bound-metrics.js';

/**
 * Every Prometheus metric Vigil exports, declared once. Names follow Prometheus conventions
 * (base units, `_total` counters); labels are bounded: route templates, model names and
 * versions from the repository, labels from model specs, status codes.
 *
 * The mood app's unlabelled names (`requests_local_total`, `local_inference_latency_seconds`...)
 * are kept as they were so dashboards written for it keep working; they are histograms rather
 * than summaries so that p95/p99 can be computed across instances.
 */

/** Latency buckets for HTTP and local inference: sub-millisecond models up to slow transformers. */
export const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Remote generation takes seconds. */
export const REMOTE_LATENCY_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60];
export const CONFIDENCE_BUCKETS = [0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1];

/** Route label for requests that matched no route, so scanners cannot create new series. */
export const UNMATCHED_ROUTE = '__unmatched__';

export type InferenceStage = 'preprocess' | 'queue' | 'infer' | 'postprocess';

type VersionLabels = { model: string; version: string };

/** What a model version's queue gauges read at scrape time. */
interface OccupancySource {
  labels: VersionLabels;
  read(): { queued: number; inFlight: number };
}

/** The server errors Vigil answers on the request path: internal, upstream, overload or not ready, deadline. */
export const SERVER_ERRORS_FROM_START = ['500', '502', '503', '504'] as const;

export class Metrics {
  readonly registry = new Registry();

  readonly httpRequests = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests answered, by method, route template and status code.',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [this.registry],
  });
  readonly httpDuration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'Time from request received to response sent, by method, route template and status code.',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly httpInFlight = new Gauge({
    name: 'http_requests_in_flight',
    help: 'HTTP requests being handled now.',
    registers: [this.registry],
  });

  readonly stageDuration = new Histogram({
    name: 'vigil_inference_stage_duration_seconds',
    help: 'Time spent in each stage of inference (preprocess, queue, infer, postprocess), per model version.',
    labelNames: ['model', 'version', 'stage'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly predictions = new Counter({
    name: 'vigil_predictions_total',
    help: 'Predictions made, by model version and predicted label.',
    labelNames: ['model', 'version', 'label'] as const,
    registers: [this.registry],
  });
  readonly confidence = new Histogram({
    name: 'vigil_prediction_confidence',
    help: 'Probability of the predicted label.',
    labelNames: ['model', 'version'] as const,
    buckets: CONFIDENCE_BUCKETS,
    registers: [this.registry],
  });
  readonly predictionValue = new Histogram({
    name: 'vigil_prediction_value',
    help: 'Values predicted by regression models, in the unit of each model target.',
    labelNames: ['model', 'version'] as const,
    // Wide, roughly logarithmic: one set of buckets for targets from fractions to thousands.
    buckets: [0, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500],
    registers: [this.registry],
  });
  readonly inferenceErrors = new Counter({
    name: 'vigil_inference_errors_total',
    help: 'Inference calls that failed, by model version and reason.',
    labelNames: ['model', 'version', 'reason'] as const,
    registers: [this.registry],
  });
  readonly modelInfo = new Gauge({
    name: 'vigil_model_info',
    help: 'Loaded model versions (value 1), with their task and runtime.',
    labelNames: ['model', 'version', 'task', 'runtime'] as const,
    registers: [this.registry],
  });
  readonly modelReady = new Gauge({
    name: 'vigil_model_ready',
    help: '1 when the model version is loaded and warmed up, else 0.',
    labelNames: ['model', 'version'] as const,
    registers: [this.registry],
  });
  readonly modelRequired = new Gauge({
    name: 'vigil_model_required',
    help: '1 when /ready waits for this model version (local models), 0 when it only reports it (remote models): only required versions page when not ready.',
    labelNames: ['model', 'version'] as const,
    registers: [this.registry],
  });
  readonly modelLoadSeconds = new Gauge({
    name: 'vigil_model_load_seconds',
    help: 'How long loading and warming up the model version took.',
    labelNames: ['model', 'version'] as const,
    registers: [this.registry],
  });
  readonly truncatedInputs = new Counter({
    name: 'vigil_truncated_inputs_total',
    help: 'Inputs cut to the model maximum length.',
    labelNames: ['model', 'version'] as const,
    registers: [this.registry],
  });

  readonly batchSize = new Histogram({
    name: 'vigil_batch_size',
    help: 'Inputs per engine call, per model version.',
    labelNames: ['model', 'version'] as const,
    buckets: [1, 2, 4, 8, 16, 32, 64, 128],
    registers: [this.registry],
  });
  // Read from the batchers when scraped (trackOccupancy), not set on every queue change: that
  // was four gauge updates per request on the request path.
  private readonly occupancySources = new Set<OccupancySource>();
  readonly queueDepth = new Gauge({
    name: 'vigil_queue_depth',
    help: 'Inputs waiting for a batch, per model version.',
    labelNames: ['model', 'version'] as const,
    registers: [this.registry],
    collect: () => this.collectOccupancy(),
  });
  readonly batchesInFlight = new Gauge({
    name: 'vigil_batches_in_flight',
    help: 'Engine calls running now, per model version.',
    labelNames: ['model', 'version'] as const,
    registers: [this.registry],
    collect: () => this.collectOccupancy(),
  });
  readonly shed = new Counter({
    name: 'vigil_requests_shed_total',
    help: 'Requests refused with 503 at the door (server_in_flight, model_in_flight; version empty), after the listener closed (shutting_down), at a full model queue (queue_full), or dropped unrun because their deadline passed in the queue (deadline: 504); one per request whatever its number of inputs.',
    labelNames: ['model', 'version', 'reason'] as const,
    registers: [this.registry],
  });

  /** What vigil_refused_connections_held reads; set by the server (src/http/refusal-pause.ts). */
  heldConnections: () => number = () => 0;
  readonly refusedConnectionsHeld: Gauge = new Gauge({
    name: 'vigil_refused_connections_held',
    help: 'Connections not being read for a while (--refusal-pause-ms) because their last request was refused with 503.',
    registers: [this.registry],
    collect: (): void => this.refusedConnectionsHeld.set(this.heldConnections()),
  });

  // The mood app's names, for local (on-machine) models.
  readonly requestsLocal = new Counter({
    name: 'requests_local_total',
    help: 'Prediction requests served by local models.',
    registers: [this.registry],
  });
  readonly errorsLocal = new Counter({
    name: 'errors_local_total',
    help: 'Prediction requests to local models that failed on the server side.',
    registers: [this.registry],
  });
  readonly localLatency = new Histogram({
    name: 'local_inference_latency_seconds',
    help: 'End-to-end latency of local model predictions (preprocess to postprocess).',
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  /** requests_local_total and local_inference_latency_seconds, bound: updated on every local prediction. */
  readonly countLocalRequest = boundCounter(this.requestsLocal);
  readonly observeLocalLatency = boundHistogram(this.localLatency);
  readonly localModelLoaded = new Gauge({
    name: 'local_model_loaded',
    help: '1 when every local model is loaded and ready, else 0.',
    registers: [this.registry],
  });

  constructor(options: { defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics !== false) {
      // process_* and nodejs_* (CPU, RSS, event-loop lag, GC); collected at scrape time.
      collectDefaultMetrics({ register: this.registry });
    }
  }

  /**
   * Reports a model version's queue length and running batches in vigil_queue_depth and
   * vigil_batches_in_flight at every scrape, until the returned function is called (which
   * leaves both at 0). Two sources with the same labels (a reload's old and new version) add up.
   */
  trackOccupancy(labels: VersionLabels, read: OccupancySource['read']): () => void {
    const source = { labels, read };
    this.occupancySources.add(source);
    return () => {
      this.occupancySources.delete(source);
      this.queueDepth.set(labels, 0);
      this.batchesInFlight.set(labels, 0);
      this.collectOccupancy();
    };
  }

  private collectOccupancy(): void {
    const totals = new Map<string, { labels: VersionLabels; queued: number; inFlight: number }>();
    for (const { labels, read } of this.occupancySources) {
      const key = `${labels.model}\u0000${labels.version}`;
      const { queued, inFlight } = read();
      const total = totals.get(key);
      if (total) {
        total.queued += queued;
        total.inFlight += inFlight;
      } else totals.set(key, { labels, queued, inFlight });
    }
    for (const { labels, queued, inFlight } of totals.values()) {
      this.queueDepth.set(labels, queued);
      this.batchesInFlight.set(labels, inFlight);
    }
  }

  private readonly http = new Map<string, { count: () => void; observe: (seconds: number) => void }>();

  /**
   * http_requests_total and http_request_duration_seconds of one method/route/status, bound
   * once (a bounded set: route templates, not paths).
   */
  httpSeries(method: string, route: string, status: string): { count: () => void; observe: (seconds: number) => void } {
    const key = `${method} ${route} ${status}`;
    let series = this.http.get(key);
    if (!series) {
      const labels = Object.freeze({ method, route, status });
      const count = boundCounter(this.httpRequests, labels);
      series = { count: () => count(), observe: boundHistogram(this.httpDuration, labels) };
      this.http.set(key, series);
    }
    return series;
  }

  /**
   * Creates a route's http_requests_total series for the server errors at 0. Prometheus counts
   * a series from its first scrape, so without this the first 5xx answers after a start are
   * invisible to rate() and to the error-budget alerts (as for gRPC, grpc-metrics.ts). Counters
   * only: the latency histogram's series appear with their first answer.
   */
  declareServerErrors(method: string, route: string): void {
    for (const status of SERVER_ERRORS_FROM_START) this.httpRequests.inc({ method, route, status }, 0);
  }

  async render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
