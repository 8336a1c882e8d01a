import { InvalidInput, ModelNotReady, NotConfigured, VigilError, type StandingRefusal } from '../errors.js';
import { folderFingerprint, type ModelSource } from '../models/repository.js';
import type { ModelSpec } from '../models/spec.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { ModelSeries } from '../observability/model-series.js';
import type { PredictionObserver } from '../observability/model-monitor.js';
import { recordBatchedSpans, traceRemoteCall } from '../observability/tracing.js';
import { taskFor } from '../tasks/index.js';
import type { PlacementSetting } from '../runtimes/onnx/engine-choice.js';
import type { EngineReport } from '../runtimes/onnx/session.js';
import type { Pipeline, Prediction, StreamRunOptions, TaskDefinition } from '../tasks/types.js';
import { Batcher, DEFAULT_BATCHING, type BatcherOptions } from './batcher.js';
import { CallTimeline } from './timeline.js';

export type ModelState = 'loading' | 'ready' | 'failed' | 'unavailable' | 'unloaded';

/**
 * Where a loaded version came from, remembered from when it was registered (Triton's model
 * lifecycle: each version knows its origin): a repository reload compares the folder's
 * fingerprint now with this one to tell a changed version from an unchanged one.
 */
export interface VersionSource {
  /** The folder its artifact paths are relative to. */
  dir: string;
  /** The folder the model was read from; a reload reads it again. */
  folder: string;
  /** folderFingerprint(dir) when the version was registered. */
  fingerprint: string;
  /** The hub id it was fetched as (`hf:owner/name`), when it came from the hub. */
  hub?: string;
}

export interface ModelVersionOptions {
  intraOpThreads?: number;
  interOpThreads?: number;
  sessions?: number;
  /** Engine placement (--engine-placement, --inline-max-ms); absent: worker threads as configured. */
  engine?: { placement: PlacementSetting; inlineMaxMs: number };
  /** Server-wide batching defaults; the spec's own `batching` section wins. */
  batching?: Partial<BatcherOptions>;
  /** For runtimes that log on their own (remote: retries, circuit changes). */
  logger?: Logger;
  /** Largest image an image task decodes (--max-image-pixels, --max-image-bytes). */
  imageLimits?: { maxPixels: number; maxBytes: number };
  /** False with `--observability off`: no metric updates per prediction (the monitor is absent too). */
  observe?: boolean;
  /** Model monitoring (prediction log, drift, feedback): sees every recorded prediction. */
  monitor?: PredictionObserver;
}

export interface PredictOptions {
  /** The caller's deadline: past it, a queued input is dropped with 504 instead of being run. */
  timeoutMs?: number;
  /** Aborted when the caller goes away: a remote call in progress is cancelled. */
  signal?: AbortSignal;
  /** The HTTP request id, logged with each prediction so delayed labels can be joined (POST /v1/feedback). */
  requestId?: string;
  /** Set by the router when this model answers for a primary that failed. */
  fallback?: { from: string; reason: string };
  /** A copy of a request for a shadow version: measured and logged per version, but not a request served. */
  shadow?: boolean;
  /**
   * Where the answering version marks the call's moments (received, encoded, queued, batch
   * start and end, decoded); the caller reads it afterwards. A fallback restarts it.
   */
  timeline?: CallTimeline;
}

const now = () => performance.now();

/**
 * One loaded version of one model: its pipeline behind a batcher, its state, and the
 * metrics of every prediction it makes. Local runtimes only count toward `*_local_*`.
 */
export class ModelVersion {
  state: ModelState = 'loading';
  /** Why the model is not ready, in words a user can act on. */
  reason: string | undefined = 'loading';
  loadSeconds: number | undefined;
  readonly spec: ModelSpec;
  readonly task: TaskDefinition;
  private pipeline: Pipeline | undefined;
  private batcher: Batcher<unknown, unknown> | undefined;
  /** Why an `unavailable` model refuses predictions (not_configured: what the operator must set). */
  private unavailable: VigilError | undefined;
  private readonly series: ModelSeries;
  private untrackOccupancy: (() => void) | undefined;

  readonly source: VersionSource;

  constructor(
    source: ModelSource,
    private readonly options: ModelVersionOptions,
    private readonly metrics: Metrics,
  ) {
    this.spec = source.spec;
    this.source = { dir: source.dir, folder: source.folder, fingerprint: folderFingerprint(source.dir), ...(source.hub ? { hub: source.hub } : {}) };
    const { spec } = this;
    this.task = taskFor(spec.task, spec.runtime);
    this.series = new ModelSeries(metrics, spec.name, spec.version, options.observe !== false);
  }

  get name(): string {
    return this.spec.name;
  }

  get version(): string {
    return this.spec.version;
  }

  get isLocal(): boolean {
    return this.spec.runtime !== 'remote';
  }

  get dir(): string {
    return this.source.dir;
  }

  /** Queue and engine occupancy, for saturation gauges. */
  get occupancy(): { queued: number; inFlight: number } {
    return { queued: this.batcher?.queued ?? 0, inFlight: this.batcher?.inFlight ?? 0 };
  }

  /**
   * Batching as it runs once loaded (engine calls at once = the pipeline's sessions), else as
   * configured: server defaults, then the spec's own section.
   */
  get batching(): BatcherOptions {
    return this.batcher?.options ?? this.configuredBatching();
  }

  private configuredBatching(): BatcherOptions {
    return { ...DEFAULT_BATCHING, ...stripUndefined(this.options.batching ?? {}), ...stripUndefined(this.spec.batching ?? {}) };
  }

  /** Where the engine runs and why, once loaded (local ONNX models). */
  get engine(): EngineReport | undefined {
    return this.pipeline?.engine;
  }

  signature(): ReturnType<Pipeline['signature']> {
    return this.pipeline?.signature() ?? { inputs: this.spec.inputs ?? [], outputs: this.spec.outputs ?? [] };
  }

  /** Loads the artifacts and runs one prediction, so the first user request is not the slow one. */
  async load(): Promise<void> {
    const started = now();
    const { labels, stage } = this.series;
    this.metrics.modelReady.set(labels, 0);
    // Whether /ready waits for this version (local models) or reports it only (remote ones).
    this.metrics.modelRequired.set(labels, this.isLocal ? 1 : 0);
    try {
      this.pipeline = await this.task.load(this.spec, {
        dir: this.source.dir,
        intraOpThreads: this.options.intraOpThreads,
        interOpThreads: this.options.interOpThreads,
        sessions: this.options.sessions,
        imageLimits: this.options.imageLimits,
        // Measured at the largest batch the batcher will form for this version.
        ...(this.options.engine ? { engine: { ...this.options.engine, maxBatch: this.configuredBatching().maxBatchSize } } : {}),
        metrics: this.metrics,
        logger: this.options.logger,
      });
      const pipeline = this.pipeline;
      const configured = this.configuredBatching();
      // An engine on the server thread takes the queue in rounds (Batcher's `rounds` says why).
      const batching = { ...configured, maxConcurrentBatches: pipeline.concurrency ?? configured.maxConcurrentBatches, rounds: pipeline.engine?.placement === 'inline' };
      // Queue waits are read from each call's timeline (CallTimeline); the engine time is per batch.
      const batcher = new Batcher((items) => pipeline.runBatch(items), batching, {
        batch: (size, s) => {
          stage.infer(s);
          this.series.batchSize(size);
        },
        shed: (reason) => this.metrics.shed.inc({ ...labels, reason }),
      }, { cost: batchCost });
      this.batcher = batcher;
      this.untrackOccupancy = this.metrics.trackOccupancy(labels, () => ({ queued: batcher.queued, inFlight: batcher.inFlight }));
      // Remote pipelines skip the warm-up: it would spend upstream quota at every start.
      if (pipeline.warmUp !== false) await this.run([pipeline.sampleInput()], {}, false);
      this.loadSeconds = (now() - started) / 1000;
      this.state = 'ready';
      this.reason = undefined;
      this.metrics.modelReady.set(labels, 1);
      this.metrics.modelLoadSeconds.set(labels, this.loadSeconds);
      this.metrics.modelInfo.set({ ...labels, task: this.spec.task, runtime: this.spec.runtime }, 1);
      if (this.isLocal) this.series.initialize(this.spec);
      this.options.monitor?.loaded?.(this.spec, this);
    } catch (error) {
      // Not configured (a remote model without a token) is a state, not a crash: the server serves the rest.
      this.state = error instanceof NotConfigured ? 'unavailable' : 'failed';
      this.unavailable = error instanceof NotConfigured ? error : undefined;
      this.reason = (error as Error).message;
      throw error;
    }
  }

  /** One cheap real prediction, for `/health?deep=1`. */
  async probe(): Promise<Prediction> {
    if (!this.pipeline) throw this.unavailable ?? new ModelNotReady(this.name, this.reason ?? this.state);
    if (this.pipeline.probe) return this.pipeline.probe();
    const [prediction] = await this.run([this.pipeline.sampleInput()], {}, false);
    return prediction!;
  }

  /**
   * A refusal that would answer any call to this version now (a remote model's open circuit),
   * counted as that call's error; undefined when a call would run, or when the version has a
   * fallback, which answers instead of the refusal.
   */
  standingRefusal(): StandingRefusal | undefined {
    if (this.state !== 'ready' || this.spec.fallback !== undefined || !this.pipeline?.standingRefusal) return undefined;
    const refusal = this.pipeline.standingRefusal();
    if (refusal) this.metrics.inferenceErrors.inc({ model: this.name, version: this.version, reason: refusal.code });
    return refusal;
  }

  /** Predicts every input of one request; each input is batched with other requests' inputs. */
  async predict(inputs: unknown[], options: PredictOptions = {}): Promise<Prediction[]> {
    if (this.state !== 'ready' || !this.pipeline) throw this.unavailable ?? new ModelNotReady(this.name, this.reason ?? this.state);
    // The caller's timeline when it passed one (the dataplane does), restarted for this version.
    const timeline = options.timeline ? options.timeline.restart(now()) : new CallTimeline(now());
    // The mood app's request counters count requests served; a shadow copy serves no one.
    const served = this.isLocal && !options.shadow;
    if (served) this.metrics.countLocalRequest();
    try {
      const predictions = await this.run(inputs, options, true, timeline);
      if (served && this.options.observe !== false) this.metrics.observeLocalLatency((timeline.decoded! - timeline.received) / 1000);
      return predictions;
    } catch (error) {
      const reason = error instanceof VigilError ? error.code : 'runtime_error';
      this.metrics.inferenceErrors.inc({ model: this.name, version: this.version, reason });
      if (served) this.metrics.errorsLocal.inc();
      // The batcher counts its own sheds; a remote model's concurrency cap sheds with the same code.
      if (!this.isLocal && reason === 'overloaded') this.metrics.shed.inc({ model: this.name, version: this.version, reason: 'queue_full' });
      throw error;
    }
  }

  /**
   * encode -> batcher (or the remote call) -> decode, marking each moment on the timeline once;
   * the stage metrics and the trace spans are read from those marks.
   */
  private async run(inputs: unknown[], options: PredictOptions, record: boolean, timeline = new CallTimeline(now())): Promise<Prediction[]> {
    const pipeline = this.pipeline!;
    const batcher = this.batcher!;
    const { labels, stage } = this.series;

    const encoding = encodeAll(pipeline, inputs);
    // Only asynchronous encoders (images) are awaited: an await costs a turn of the microtask queue.
    const encoded = encoding instanceof Promise ? await encoding : encoding;
    timeline.encoded = timeline.queued = now();
    stage.preprocess((timeline.encoded - timeline.received) / 1000);

    let raws: unknown[];
    if (pipeline.run) {
      // Pipelines with their own `run` (remote APIs: one input per call, own concurrency cap) skip the batcher.
      timeline.batchStart = timeline.queued;
      try {
        raws = await traceRemoteCall(labels, encoded.length, () => Promise.all(encoded.map((e) => pipeline.run!(e, { signal: options.signal }))));
      } catch (error) {
        timeline.failed = now();
        throw error;
      }
      timeline.batchEnd = now();
    } else {
      // A request's inputs are admitted (or shed, or timed out) together: one request, one 503/504.
      // The batcher marks batchStart and batchEnd on the timeline with the clock reads that time the batch.
      try {
        raws = await batcher.submitAll(encoded, options.timeoutMs, timeline);
      } catch (error) {
        timeline.failed = now();
        if (timeline.batchStart !== undefined) stage.queue((timeline.batchStart - timeline.queued) / 1000);
        recordBatchedSpans(labels, encoded.length, timeline, error);
        throw error;
      }
      stage.queue((timeline.batchStart! - timeline.queued) / 1000);
      recordBatchedSpans(labels, encoded.length, timeline);
    }

    const predictions = raws.map((raw, i) => pipeline.decode(raw, encoded[i]));
    timeline.decoded = now();
    stage.postprocess((timeline.decoded - timeline.batchEnd!) / 1000);

    if (record) {
      for (const p of predictions) {
        // Regression answers have no label: counted under label="value", so predictions/s covers every model.
        if (p.label !== undefined) this.series.prediction(p.label);
        else if (typeof p.value === 'number') this.series.prediction('value');
        if (p.score !== undefined) this.series.confidence(p.score);
        if (p.truncated) this.series.truncated();
        if (typeof p.value === 'number' && Number.isFinite(p.value)) this.series.value(p.value);
      }
      if (this.options.monitor) this.monitorPredictions(inputs, encoded, predictions, options, timeline);
    }
    return predictions;
  }

  /** Hands the predictions and their drift features to the monitor; monitoring never fails a request. */
  private monitorPredictions(inputs: unknown[], encoded: unknown[], predictions: Prediction[], options: PredictOptions, timeline: CallTimeline): void {
    const pipeline = this.pipeline;
    try {
      const items = predictions.map((p, i) => {
        let features: Readonly<Record<string, unknown>> | undefined;
        try {
          features = pipeline?.features?.(encoded[i], inputs[i]);
        } catch {
          features = undefined;
        }
        return { label: p.label, score: p.score, value: typeof p.value === 'number' ? p.value : undefined, features, input: inputs[i] };
      });
      // Logged at the moment the version received the call, on the wall clock.
      const receivedAt = Math.round(performance.timeOrigin + timeline.received);
      this.options.monitor!.observe(this.spec, { requestId: options.requestId, fallback: options.fallback, shadow: options.shadow, receivedAt, items });
    } catch (error) {
      this.options.logger?.warn({ err: error, model: this.name, version: this.version }, 'prediction monitoring failed');
    }
  }

  /** Whether `stream()` works for this model's task (known before it loads). */
  get canStream(): boolean {
    return this.task.streams === true;
  }

  /** Predicts one input, reporting generated text through `onToken` as it arrives. */
  async stream(input: unknown, options: StreamRunOptions): Promise<Prediction> {
    if (this.state !== 'ready' || !this.pipeline) throw this.unavailable ?? new ModelNotReady(this.name, this.reason ?? this.state);
    const pipeline = this.pipeline;
    if (!pipeline.stream) throw new InvalidInput(`model "${this.name}" cannot stream; leave out "stream"`, 'streaming_not_supported');
    try {
      const encoded = await pipeline.encode(input);
      const streamed = await traceRemoteCall(this.series.labels, 1, () => pipeline.stream!(encoded, options));
      return pipeline.decode(streamed, encoded);
    } catch (error) {
      const reason = error instanceof VigilError ? error.code : 'runtime_error';
      this.metrics.inferenceErrors.inc({ model: this.name, version: this.version, reason });
      throw error;
    }
  }

  /** Waits for queued work, then frees the engine. */
  async unload(): Promise<void> {
    this.state = 'unloaded';
    this.reason = 'unloaded';
    await this.batcher?.idle();
    await this.pipeline?.release();
    this.pipeline = undefined;
    this.untrackOccupancy?.();
    this.untrackOccupancy = undefined;
    const { labels } = this.series;
    this.metrics.modelReady.set(labels, 0);
    this.metrics.modelInfo.remove({ ...labels, task: this.spec.task, runtime: this.spec.runtime });
    this.options.monitor?.unloaded?.(this.spec, this);
  }
}

/** Encodes a request's inputs; waits only for pipelines whose encode is asynchronous (images). */
function encodeAll(pipeline: Pipeline, inputs: unknown[]): unknown[] | Promise<unknown[]> {
  const encoded = inputs.map((input) => pipeline.encode(input));
  return encoded.some((e) => e instanceof Promise) ? Promise.all(encoded) : encoded;
}

/** Cost of one encoded input for length bucketing: its token count when it has one (text), else 1. */
function batchCost(encoded: unknown): number {
  const ids = (encoded as { ids?: { length: number } } | null)?.ids;
  return typeof ids?.length === 'number' ? ids.length : 1;
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
