import { InvalidInput } from '../errors.js';
import type { CallCost } from '../runtimes/onnx/engine-choice.js';
import type { EngineReport } from '../runtimes/onnx/session.js';
import type { Prediction } from '../tasks/types.js';
import { withLazySignal } from './lazy-signal.js';
import { ModelLifecycle } from './lifecycle.js';
import type { ModelVersion, PredictOptions } from './model-version.js';
import type { ModelRegistry, ModelStatus } from './registry.js';
import type { PredictionRouter } from './router.js';
import type { FallbackNote } from './routed.js';
import type { RouteKind } from './routing-metrics.js';
import { CallTimeline } from './timeline.js';

/**
 * The inference core every protocol calls (MLServer's and KServe's "dataplane"): one call names
 * a model (and maybe a version or alias), carries a route key, a request id, a queue deadline, a
 * cancellation signal and a payload its protocol already decoded, and gets back the answer or a
 * typed error (src/errors.ts: the status says whose fault it is). Readiness, metadata, deep
 * health and the model lifecycle go through here too. The JSON API, SSE and OIP REST in
 * src/http are adapters over it; the OIP tensor layer (src/serving/oip) is built on it for
 * every OIP transport. Nothing here knows about HTTP.
 */

/** Who the call is for, and how to choose the version that answers. */
export interface CallTarget {
  model: string;
  /** A version or alias (`champion`, `challenger`, `shadow`) named by the caller: no split, no shadow. */
  version?: string;
  /** The sticky key (a user or session id): one key, one version during a canary. Never logged. */
  routeKey?: string;
  /** Logged with every prediction (delayed labels join on it); splits calls without a route key. */
  requestId: string;
}

/** How long the caller waits, and how it says it left. */
export interface CallControl {
  /** Longest wait in the queue, in ms: past it the call is answered 504 `deadline_exceeded` unrun. */
  timeoutMs?: number;
  /** Aborted when the caller goes away; a remote call in progress is cancelled. May be a lazy getter. */
  readonly signal?: AbortSignal;
}

export type InferenceCall<Payload> = CallTarget & CallControl & {
  payload: Payload;
  /** Told which way the router went once the version is chosen and the payload decoded (x-vigil-route). */
  onRoute?(route: RouteKind): void;
};

/** An answer, and which version gave it. */
export interface Answer<T> {
  result: T;
  /** The version that answered (the fallback's when it stood in). */
  model: ModelVersion;
  route: RouteKind;
  fallback?: FallbackNote;
  /** The answering version's moments (received, encoded, queued, batch start/end, decoded); absent for streams. */
  timeline?: CallTimeline;
}

/** A JSON API prediction: one per input, and whether the request was a batch. */
export interface PredictResult {
  predictions: Prediction[];
  batch: boolean;
}

/** A streaming call checked and routed, not yet started: `run` streams it. */
export interface PreparedStream {
  route: RouteKind;
  run(onToken: (delta: string) => void, signal?: AbortSignal): Promise<Answer<Prediction>>;
}

export interface DeepCheck {
  name: string;
  version: string;
  required: boolean;
  ok: boolean;
  latency_ms?: number;
  prediction?: Prediction;
  error?: string;
}

export interface DataplaneOptions {
  /** Most inputs one call may carry. */
  maxBatchInputs: number;
  /** Shared with the server: set when shutdown begins, so readiness turns false. */
  lifecycle: { draining: boolean };
}

/** What the JSON API says about a model version: never secrets, never local file paths. */
export function describeModel(model: ModelVersion, allVersions: string[]) {
  const { spec } = model;
  return {
    name: spec.name,
    version: spec.version,
    versions: allVersions,
    task: spec.task,
    runtime: spec.runtime,
    state: model.state,
    ...(model.reason ? { reason: model.reason } : {}),
    description: spec.description,
    labels: spec.labels,
    // What a client needs to build a request: feature names/units for tables, image size, max length.
    preprocessing: spec.preprocessing,
    signature: model.signature(),
    batching: model.batching,
    quality: spec.quality,
    evaluation: spec.evaluation,
    fallback: spec.fallback,
    load_seconds: model.loadSeconds,
    // Where onnxruntime runs (server thread or workers), its threads, and the calls it was decided from.
    ...(model.engine ? { engine: engineDescription(model.engine) } : {}),
  };
}

function engineDescription(engine: EngineReport) {
  const { placement, intraOpThreads, sessions, reason, calibration } = engine;
  const cost = (c: CallCost | undefined) => c && { batch1_ms: c.batch1Ms, ...(c.batchMaxMs !== undefined ? { batch_max_ms: c.batchMaxMs } : {}) };
  return {
    placement,
    intra_op_threads: intraOpThreads,
    sessions,
    reason,
    ...(calibration ? { calibration: { max_batch: calibration.maxBatch, pooled: cost(calibration.pooled), ...(calibration.single ? { single_thread: cost(calibration.single) } : {}) } } : {}),
  };
}

export type ModelDescription = ReturnType<typeof describeModel>;

export class Dataplane {
  /** Load, unload, reload and the index of every version (each version knows its source). */
  readonly repository: ModelLifecycle;

  constructor(
    readonly registry: ModelRegistry,
    private readonly router: PredictionRouter,
    private readonly options: DataplaneOptions,
  ) {
    this.repository = new ModelLifecycle(registry);
  }

  /** The model `/predict` serves when the caller names none. */
  get defaultModel(): string | undefined {
    return this.registry.defaultModelName;
  }

  // ---- inference ----------------------------------------------------------------------------

  /**
   * The core of every inference: choose the version, let the protocol turn its payload into the
   * chosen model's inputs (`decode` sees the model: inputs depend on its task), check the count,
   * and predict through the router (batcher, shadow copy, fallback). `useFallback: false` where a
   * stand-in model could not speak the caller's format (OIP tensors).
   */
  async infer<Payload>(
    call: InferenceCall<Payload>,
    decode: (model: ModelVersion, payload: Payload) => unknown[],
    { useFallback = true }: { useFallback?: boolean } = {},
  ): Promise<Answer<Prediction[]>> {
    const decision = this.router.choose(call.model, { version: call.version, routeKey: call.routeKey, requestId: call.requestId });
    const inputs = decode(decision.model, call.payload);
    this.checkCount(inputs.length);
    call.onRoute?.(decision.route);
    const timeline = new CallTimeline(performance.now());
    const routed = await this.router.predict(decision, inputs, predictOptions(call, timeline), { useFallback });
    return { ...routed, route: decision.route, timeline };
  }

  /** A JSON API prediction: the payload is the request body, read by the chosen model's task. */
  async predict(call: InferenceCall<unknown>): Promise<Answer<PredictResult>> {
    let batch = false;
    const answer = await this.infer(call, (model, body) => {
      const parsed = model.task.parseRequest(body, { maxBatchInputs: this.options.maxBatchInputs });
      batch = parsed.batch;
      return parsed.inputs;
    });
    return { ...answer, result: { predictions: answer.result, batch } };
  }

  /**
   * A streamed prediction (`"stream": true`): checked and routed now, so a bad request (400/404)
   * is refused before anything is streamed; `run` then streams one input.
   */
  prepareStream(call: CallTarget & { payload: unknown }): PreparedStream {
    const decision = this.router.choose(call.model, { version: call.version, routeKey: call.routeKey, requestId: call.requestId });
    const { model } = decision;
    const { inputs, batch } = model.task.parseRequest(call.payload, { maxBatchInputs: this.options.maxBatchInputs });
    if (batch || inputs.length !== 1) throw new InvalidInput('"stream": true takes one input, not a batch', 'streaming_needs_one_input');
    if (!model.canStream) {
      throw new InvalidInput(`model "${model.name}" (task ${model.spec.task}) cannot stream; leave out "stream"`, 'streaming_not_supported');
    }
    return {
      route: decision.route,
      run: async (onToken, signal) => ({ ...(await this.router.stream(decision, inputs[0], { signal, onToken })), route: decision.route }),
    };
  }

  private checkCount(count: number): void {
    if (count === 0) throw new InvalidInput('the batch is empty: the first dimension of the inputs is 0');
    if (count > this.options.maxBatchInputs) {
      throw new InvalidInput(`the batch has ${count} rows; at most ${this.options.maxBatchInputs} are allowed per request`, 'too_many_inputs');
    }
  }

  // ---- models, readiness, health ------------------------------------------------------------

  /** A model version (or its champion): 404 for an unknown model, version or unset alias. */
  model(name: string, version?: string): ModelVersion {
    return this.registry.get(name, version);
  }

  /** The version names of a model, oldest first. */
  versions(name: string): string[] {
    return this.registry.versions(name).map((v) => v.version);
  }

  list(): { default: string | undefined; models: ModelDescription[] } {
    return { default: this.defaultModel, models: this.registry.names().map((name) => this.describe(name)) };
  }

  describe(name: string, version?: string): ModelDescription {
    return describeModel(this.registry.get(name, version), this.versions(name));
  }

  /** Every local model loaded and warmed up, no hub download pending, not draining. */
  get ready(): boolean {
    return this.registry.ready && !this.options.lifecycle.draining;
  }

  get draining(): boolean {
    return this.options.lifecycle.draining;
  }

  /** One version ready to answer (and the server not draining). */
  modelReady(name: string, version?: string): { name: string; ready: boolean } {
    const model = this.registry.get(name, version);
    return { name: model.name, ready: model.state === 'ready' && !this.options.lifecycle.draining };
  }

  status(): ModelStatus[] {
    return this.registry.status();
  }

  /** One cheap real prediction per version; healthy when every required (local) one answered. */
  async deepHealth(): Promise<{ healthy: boolean; checks: DeepCheck[] }> {
    const checks = await Promise.all(
      this.registry.all().map(async (model): Promise<DeepCheck> => {
        const started = performance.now();
        try {
          const prediction = await model.probe();
          return { name: model.name, version: model.version, required: model.isLocal, ok: true, latency_ms: performance.now() - started, prediction };
        } catch (error) {
          return { name: model.name, version: model.version, required: model.isLocal, ok: false, error: (error as Error).message };
        }
      }),
    );
    return { healthy: checks.every((c) => c.ok || !c.required), checks };
  }
}

/** The router's options for one call; the signal is read only if a runtime asks for it. */
function predictOptions(call: CallTarget & CallControl, timeline: CallTimeline): PredictOptions {
  return withLazySignal({ timeline, timeoutMs: call.timeoutMs, requestId: call.requestId }, () => call.signal);
}
