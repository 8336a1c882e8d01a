import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Type, type Static } from 'typebox';
import { Value } from 'typebox/value';

/** The repository root (holds models/ and ui/), from either src/ or dist/. */
export const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export const ModelRef = Type.Object({
  /** Overrides the name from the spec or folder. */
  name: Type.Optional(Type.String()),
  path: Type.String(),
});
export type ModelRef = Static<typeof ModelRef>;

/** Everything `vigil serve` can be told, from a JSON file, the environment or flags (in rising precedence). */
export const ServeConfig = Type.Object({
  host: Type.String(),
  port: Type.Integer({ minimum: 0, maximum: 65535 }),
  /** Repository root: every sub-folder is a model. Empty string: none. */
  modelsDir: Type.String(),
  /** Extra model folders (vigil, versioned or Hugging Face layout). */
  models: Type.Array(ModelRef),
  defaultModel: Type.Optional(Type.String()),
  /** onnxruntime threads per operator; 0 = one per core. */
  intraOpThreads: Type.Optional(Type.Integer({ minimum: 0 })),
  interOpThreads: Type.Optional(Type.Integer({ minimum: 1 })),
  /** onnxruntime sessions per model, each on its own worker thread. */
  sessions: Type.Optional(Type.Integer({ minimum: 1 })),
  /** Server-wide batching defaults for local models; a model spec's `batching` section wins. */
  maxBatchSize: Type.Optional(Type.Integer({ minimum: 1 })),
  maxDelayMs: Type.Optional(Type.Number({ minimum: 0 })),
  maxQueue: Type.Optional(Type.Integer({ minimum: 0 })),
  /** Batch queued inputs of similar length together (text models). */
  bucketing: Type.Optional(Type.Boolean()),
  bodyLimit: Type.Integer({ minimum: 1024 }),
  maxBatchInputs: Type.Integer({ minimum: 1 }),
  logLevel: Type.String(),
  /** After SIGTERM, how long readiness says 503 before the listener closes (lets balancers notice). */
  drainDelayMs: Type.Integer({ minimum: 0 }),
  uiDir: Type.String(),
  /** Prediction log: a SQLite file, or ':memory:' (the default: kept until the process exits). */
  predictionLog: Type.Optional(Type.String()),
  predictionLogMaxRows: Type.Optional(Type.Integer({ minimum: 1 })),
  predictionLogMaxDays: Type.Optional(Type.Number({ minimum: 0 })),
  /** Keep a PII-scrubbed copy of text inputs in the prediction log. */
  logInputs: Type.Optional(Type.Boolean()),
  /** Labelled predictions in the online quality window (default 500). */
  qualityWindow: Type.Optional(Type.Integer({ minimum: 1 })),
  /** Inputs in the drift window (default 1000). */
  driftWindow: Type.Optional(Type.Integer({ minimum: 1 })),
});
export type ServeConfig = Static<typeof ServeConfig>;

export const DEFAULT_SERVE_CONFIG: ServeConfig = {
  host: '0.0.0.0',
  port: 8000,
  modelsDir: path.join(PACKAGE_ROOT, 'models'),
  models: [],
  bodyLimit: 1024 * 1024,
  maxBatchInputs: 64,
  logLevel: 'info',
  drainDelayMs: 0,
  uiDir: path.join(PACKAGE_ROOT, 'ui', 'dist'),
};

export class ConfigError extends Error {}

/** `name=path` or `path`. */
export function parseModelRef(raw: string): ModelRef {
  const eq = raw.indexOf('=');
  if (eq > 0 && !raw.slice(0, eq).includes('/')) return { name: raw.slice(0, eq), path: raw.slice(eq + 1) };
  return { path: raw };
}

function integer(raw: string | undefined, what: string): number | undefined {
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value)) throw new ConfigError(`${what} must be a whole number, got "${raw}"`);
  return value;
}

/** Settings taken from the environment (PORT, HOST, VIGIL_*), for containers and systemd units. */
export function fromEnvironment(env: NodeJS.ProcessEnv): Partial<ServeConfig> {
  const config: Partial<ServeConfig> = {};
  if (env.HOST) config.host = env.HOST;
  const port = integer(env.PORT, 'PORT');
  if (port !== undefined) config.port = port;
  if (env.VIGIL_MODELS_DIR !== undefined) config.modelsDir = env.VIGIL_MODELS_DIR;
  if (env.VIGIL_MODELS) config.models = env.VIGIL_MODELS.split(',').filter(Boolean).map(parseModelRef);
  if (env.VIGIL_DEFAULT_MODEL) config.defaultModel = env.VIGIL_DEFAULT_MODEL;
  const threads = integer(env.VIGIL_THREADS, 'VIGIL_THREADS');
  if (threads !== undefined) config.intraOpThreads = threads;
  const sessions = integer(env.VIGIL_SESSIONS, 'VIGIL_SESSIONS');
  if (sessions !== undefined) config.sessions = sessions;
  const maxBatchSize = integer(env.VIGIL_MAX_BATCH_SIZE, 'VIGIL_MAX_BATCH_SIZE');
  if (maxBatchSize !== undefined) config.maxBatchSize = maxBatchSize;
  if (env.VIGIL_MAX_DELAY_MS) config.maxDelayMs = Number(env.VIGIL_MAX_DELAY_MS);
  const maxQueue = integer(env.VIGIL_MAX_QUEUE, 'VIGIL_MAX_QUEUE');
  if (maxQueue !== undefined) config.maxQueue = maxQueue;
  if (env.VIGIL_PREDICTION_LOG) config.predictionLog = env.VIGIL_PREDICTION_LOG;
  const logRows = integer(env.VIGIL_PREDICTION_LOG_MAX_ROWS, 'VIGIL_PREDICTION_LOG_MAX_ROWS');
  if (logRows !== undefined) config.predictionLogMaxRows = logRows;
  if (env.VIGIL_PREDICTION_LOG_MAX_DAYS) config.predictionLogMaxDays = Number(env.VIGIL_PREDICTION_LOG_MAX_DAYS);
  if (env.VIGIL_LOG_INPUTS) config.logInputs = ['1', 'true', 'on', 'yes'].includes(env.VIGIL_LOG_INPUTS.toLowerCase());
  if (env.LOG_LEVEL) config.logLevel = env.LOG_LEVEL;
  return config;
}

export function fromFile(file: string): Partial<ServeConfig> {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new ConfigError(`cannot read config file ${file}: ${(error as Error).message}`);
  }
  if (typeof raw !== 'object' || raw === null) throw new ConfigError(`${file}: must hold a JSON object`);
  return raw as Partial<ServeConfig>;
}

/** Merges the layers and checks the result, naming the first bad setting. */
export function resolveServeConfig(...layers: Partial<ServeConfig>[]): ServeConfig {
  const merged = Object.assign({}, DEFAULT_SERVE_CONFIG, ...layers.map(withoutUndefined)) as ServeConfig;
  if (!Value.Check(ServeConfig, merged)) {
    const first = [...Value.Errors(ServeConfig, merged)][0] as { instancePath?: string; message?: string } | undefined;
    throw new ConfigError(`invalid setting ${first?.instancePath || '/'}: ${first?.message ?? 'unknown error'}`);
  }
  return merged;
}

function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
