import { Type, type Static } from 'typebox';
import { Value } from 'typebox/value';

/**
 * `vigil.model.json`: everything the server needs to know about one model version.
 * Training writes it; the registry reads it. Unknown keys are kept (additionalProperties)
 * so that a newer trainer's spec still loads on an older server.
 */

export const TaskName = Type.Union([
  Type.Literal('text-classification'),
  Type.Literal('image-classification'),
  Type.Literal('tabular-regression'),
  Type.Literal('text-generation'),
]);
export type TaskName = Static<typeof TaskName>;

export const RuntimeName = Type.Union([Type.Literal('onnx'), Type.Literal('remote')]);
export type RuntimeName = Static<typeof RuntimeName>;

export const Datatype = Type.Union([
  Type.Literal('BOOL'),
  Type.Literal('UINT8'),
  Type.Literal('INT8'),
  Type.Literal('INT16'),
  Type.Literal('INT32'),
  Type.Literal('INT64'),
  Type.Literal('FP16'),
  Type.Literal('FP32'),
  Type.Literal('FP64'),
  Type.Literal('BYTES'),
]);
export type Datatype = Static<typeof Datatype>;

export const TensorSpec = Type.Object({
  name: Type.String(),
  datatype: Datatype,
  /** -1 marks a variable dimension (batch, sequence length). */
  shape: Type.Array(Type.Integer()),
});
export type TensorSpec = Static<typeof TensorSpec>;

export const OnnxSettings = Type.Object({
  /** Path of the .onnx file, relative to the spec. */
  file: Type.String(),
  intraOpThreads: Type.Optional(Type.Integer({ minimum: 0 })),
  interOpThreads: Type.Optional(Type.Integer({ minimum: 0 })),
  /** Sessions on their own worker threads, each running one batch at a time. */
  sessions: Type.Optional(Type.Integer({ minimum: 1 })),
  /** Where the engine runs; over the server's --engine-placement (src/runtimes/onnx/engine-choice.ts). */
  placement: Type.Optional(Type.Union([Type.Literal('auto'), Type.Literal('worker'), Type.Literal('inline')])),
});

export const RemoteSettings = Type.Object({
  /** OpenAI-compatible base URL, e.g. https://router.huggingface.co/v1 or http://localhost:11434/v1. */
  baseUrl: Type.Optional(Type.String()),
  model: Type.String(),
  systemPrompt: Type.Optional(Type.String()),
  maxTokens: Type.Optional(Type.Integer({ minimum: 1 })),
  temperature: Type.Optional(Type.Number({ minimum: 0 })),
  timeoutMs: Type.Optional(Type.Integer({ minimum: 1 })),
  /** "bearer" (default) sends a token; "none" is for a local server without authentication. */
  auth: Type.Optional(Type.Union([Type.Literal('bearer'), Type.Literal('none')])),
  /** Environment variable holding the token (default HF_TOKEN); `<NAME>_FILE` may name a mode-0600 file instead. */
  tokenEnv: Type.Optional(Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]*$' })),
  /** Retries on network errors, 429 and 5xx, with exponential backoff and full jitter. */
  retry: Type.Optional(
    Type.Object({
      maxRetries: Type.Optional(Type.Integer({ minimum: 0, maximum: 10 })),
      baseDelayMs: Type.Optional(Type.Integer({ minimum: 0 })),
      maxDelayMs: Type.Optional(Type.Integer({ minimum: 0 })),
      /** A longer upstream Retry-After is not waited for: the caller gets it instead. */
      maxRetryAfterMs: Type.Optional(Type.Integer({ minimum: 0 })),
    }),
  ),
  circuitBreaker: Type.Optional(
    Type.Object({
      failureThreshold: Type.Optional(Type.Integer({ minimum: 1 })),
      cooldownMs: Type.Optional(Type.Integer({ minimum: 1 })),
    }),
  ),
  concurrency: Type.Optional(
    Type.Object({
      maxInFlight: Type.Optional(Type.Integer({ minimum: 1 })),
      maxQueue: Type.Optional(Type.Integer({ minimum: 0 })),
    }),
  ),
});

export const BatchingSettings = Type.Object({
  maxBatchSize: Type.Optional(Type.Integer({ minimum: 1 })),
  maxDelayMs: Type.Optional(Type.Number({ minimum: 0 })),
  maxQueue: Type.Optional(Type.Integer({ minimum: 0 })),
  /** Group queued inputs of similar token length into the same batch (docs/performance.md). */
  bucketing: Type.Optional(Type.Boolean()),
});
export type BatchingSettings = Static<typeof BatchingSettings>;

/** Which quality metrics delayed labels are scored with. */
export const QualitySettings = Type.Object({
  metrics: Type.Array(Type.String()),
  positiveLabel: Type.Optional(Type.String()),
});

export const ModelSpec = Type.Object(
  {
    name: Type.String({ pattern: '^[a-z0-9][a-z0-9._-]*$' }),
    version: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$' }),
    task: TaskName,
    runtime: RuntimeName,
    description: Type.Optional(Type.String()),
    inputs: Type.Optional(Type.Array(TensorSpec)),
    outputs: Type.Optional(Type.Array(TensorSpec)),
    labels: Type.Optional(Type.Array(Type.String())),
    onnx: Type.Optional(OnnxSettings),
    remote: Type.Optional(RemoteSettings),
    preprocessing: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    batching: Type.Optional(BatchingSettings),
    quality: Type.Optional(QualitySettings),
    /** Held-out evaluation numbers measured at training time. */
    evaluation: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    /** Reference distributions of inputs and predictions, for drift. */
    reference: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    provenance: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    training: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    /** Name of the model that answers when this one fails or sheds load. */
    fallback: Type.Optional(Type.String()),
  },
  { additionalProperties: true },
);
export type ModelSpec = Static<typeof ModelSpec>;

export const SPEC_FILE = 'vigil.model.json';

export class SpecError extends Error {}

/** Validates a parsed spec and says which field is wrong if it is not. */
export function parseSpec(raw: unknown, where: string): ModelSpec {
  if (Value.Check(ModelSpec, raw)) {
    const spec = raw as ModelSpec;
    if (spec.runtime === 'onnx' && !spec.onnx) throw new SpecError(`${where}: runtime "onnx" needs an "onnx" section`);
    if (spec.runtime === 'remote' && !spec.remote) throw new SpecError(`${where}: runtime "remote" needs a "remote" section`);
    return spec;
  }
  const first = [...Value.Errors(ModelSpec, raw)][0];
  const path = first ? (first as { instancePath?: string; path?: string }).instancePath ?? (first as { path?: string }).path ?? '' : '';
  throw new SpecError(`${where}: invalid model spec at "${path || '/'}": ${first?.message ?? 'unknown error'}`);
}
