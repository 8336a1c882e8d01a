import type { StandingRefusal } from '../errors.js';
import type { ModelSpec, TaskName, TensorSpec } from '../models/spec.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { EngineReport, EngineSettings } from '../runtimes/onnx/session.js';

/**
 * What every prediction can say about itself, whatever the task. Classification fills
 * label/score/scores; regression fills value/unit; generation fills text.
 */
export interface Prediction {
  label?: string;
  score?: number;
  scores?: Record<string, number>;
  value?: number;
  unit?: string;
  text?: string;
  /** The input was cut to the model's maximum length. */
  truncated?: boolean;
  [key: string]: unknown;
}

/**
 * A loaded model, split the way its cost splits: `encode` runs once per input before the
 * queue (tokenizing, decoding an image), `runBatch` runs once per batch (padding and one
 * engine call), `decode` runs once per input after it. The batcher sits between encode and
 * runBatch, so concurrent requests share one engine call.
 */
export interface Pipeline<Input = unknown, Encoded = unknown, Raw = unknown> {
  encode(input: Input): Encoded | Promise<Encoded>;
  runBatch(batch: Encoded[]): Promise<Raw[]>;
  decode(raw: Raw, encoded: Encoded): Prediction;
  /** A typical input, used for warm-up and for the deep health check. */
  sampleInput(): Input;
  /** Tensors as the Open Inference Protocol describes them. */
  signature(): { inputs: TensorSpec[]; outputs: TensorSpec[] };
  release(): Promise<void>;
  /** Batches the pipeline can run at the same time (one per engine session); 1 if absent. */
  readonly concurrency?: number;
  /** Where its engine runs and why (local ONNX pipelines). */
  readonly engine?: EngineReport;
  /**
   * Runs one encoded input without the batcher. Remote APIs take one input per call and cap
   * their own concurrency; the signal aborts the call when the client goes away.
   */
  run?(encoded: Encoded, options: RunOptions): Promise<Raw>;
  /** Like run, reporting generated text as it arrives (text generation). */
  stream?(encoded: Encoded, options: StreamRunOptions): Promise<Raw>;
  /** The deep health check's cheap real call, when running sampleInput() would not be cheap. */
  probe?(): Promise<Prediction>;
  /**
   * A refusal that holds for every call right now (a remote model's open circuit), counted as
   * that call; undefined when a call would run. Asked before a request is read (http/door.ts).
   */
  standingRefusal?(): StandingRefusal | undefined;
  /** False when a warm-up call would spend an upstream quota (remote models): load() skips it. */
  readonly warmUp?: boolean;
  /**
   * Per-input values for drift monitoring, named like the spec's `reference.features` and
   * computed the way the training code computed the reference (src/observability/drift.ts).
   */
  features?(encoded: Encoded, input: Input): Readonly<Record<string, unknown>>;
}

/** Per-call options of Pipeline.run. */
export interface RunOptions {
  signal?: AbortSignal;
}

export interface StreamRunOptions extends RunOptions {
  /** Called with each piece of generated text, in order. */
  onToken(delta: string): void;
}

export interface LoadOptions {
  /** Folder holding the spec; artifact paths in the spec are relative to it. */
  dir: string;
  intraOpThreads?: number;
  interOpThreads?: number;
  /** Engine sessions (worker threads) per model version. */
  sessions?: number;
  /** Largest image (pixels, bytes) an image task decodes; DEFAULT_IMAGE_LIMITS when absent. */
  imageLimits?: { maxPixels: number; maxBytes: number };
  /** Where the engine may run, decided at load from its measured calls (runtimes/onnx/engine-choice.ts); absent: workers. */
  engine?: EngineSettings;
  /** The server's metrics, for runtimes that declare their own (remote). */
  metrics?: Metrics;
  logger?: Logger;
}

export interface RequestLimits {
  /** Most inputs one request may carry. */
  maxBatchInputs: number;
}

/** A JSON API request body, parsed and checked: one input, or several. */
export interface ParsedRequest<Input = unknown> {
  inputs: Input[];
  batch: boolean;
}

/**
 * A task: how the JSON API's body is read (its OpenAPI schema is src/http/schemas/json-api.ts),
 * and how to load a model of that task.
 * One module per task under src/tasks/.
 */
export interface TaskDefinition<Input = unknown> {
  readonly name: TaskName;
  /** Checks a JSON API body; throws InvalidInput naming the offending field. */
  parseRequest(body: unknown, limits: RequestLimits): ParsedRequest<Input>;
  load(spec: ModelSpec, options: LoadOptions): Promise<Pipeline<Input>>;
  /** True when its pipelines can stream (`"stream": true` answers server-sent events). */
  readonly streams?: boolean;
}
