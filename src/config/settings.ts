import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Type, type TSchema } from 'typebox';

/**
 * Every setting of `vigil serve`, declared once: its config-file key, type (a JSON schema), default,
 * flag, environment variable and help text. The config-file schema (serve-config.ts), the
 * environment reader, the command line and its --help (flags.ts) and the README's settings table
 * (settings-table.ts, checked by test/unit/settings.test.ts) are all derived from this list, so a
 * new setting is one entry here and one use where it takes effect.
 *
 * This module imports nothing of Vigil's own: everything may read it, it reads nothing back.
 */

/** The repository root (holds models/ and ui/), from either src/ or dist/. */
export const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** How a flag's or environment variable's text becomes the setting's value. */
export type SettingKind =
  | 'string'
  /** A whole number. */
  | 'integer'
  /** Any finite number. */
  | 'number'
  /** A flag without a value; in the environment 1/true/on/yes or 0/false/off/no. */
  | 'boolean'
  /** `on` or `off` (also true/false), as a flag's value or in the environment. */
  | 'on-off'
  /** `[NAME=]PATH`, repeatable as a flag, comma-separated in the environment. */
  | 'model-list'
  /** Words, repeatable as a flag, comma-separated in either. */
  | 'string-list'
  /** The routing section: JSON in the environment, --champion/--canary/--shadow as flags. */
  | 'routing';

/** A flag beyond a setting's own (`--no-embedded` for modelsDir, `--canary` for routing). */
export interface ExtraFlag {
  flag: string;
  /** Placeholder for the flag's value in help (`NAME=VERSION:WEIGHT`); none: the flag takes no value. */
  value?: string;
  help: string;
}

export interface Setting<S extends TSchema = TSchema> {
  /** JSON schema of the config-file value (Type.Optional when the setting has no default here). */
  schema: S;
  kind: SettingKind;
  /** Applied when no layer sets it. None: whoever consumes it decides (see defaultText). */
  default?: unknown;
  /** The default as help and README say it, when the value alone would mislead (paths, "the spec's"). */
  defaultText?: string;
  /** `--name` (without the dashes); none: config file (and environment) only. */
  flag?: string;
  short?: string;
  /** Placeholder for the flag's value in help (N, PATH); none for boolean flags. */
  value?: string;
  env?: string;
  /** An empty environment variable is a value (VIGIL_MODELS_DIR= serves no repository), not "unset". */
  emptyEnvIsValue?: boolean;
  /** One sentence, without the default or the environment variable (help and README add them). */
  help: string;
  /** Further flags setting the same value. */
  extraFlags?: readonly ExtraFlag[];
}

export const ModelRef = Type.Object({
  /** Overrides the name from the spec or folder. */
  name: Type.Optional(Type.String()),
  path: Type.String(),
});

const declare = <S extends TSchema>(setting: Setting<S>): Setting<S> => setting;

/**
 * In the order --help and the README list them. Keys are the config file's (camelCase) and
 * ServeConfig's property names.
 */
export const SETTINGS = {
  host: declare({
    schema: Type.String(),
    kind: 'string',
    // Loopback: reachable from a network only when the operator says so (the container image,
    // compose, Fly.io, Kubernetes and the systemd units set HOST=0.0.0.0).
    default: '127.0.0.1',
    flag: 'host',
    value: 'HOST',
    env: 'HOST',
    help: 'address to bind: this machine only; 0.0.0.0 for every interface (the deploy kits set it)',
  }),
  port: declare({
    schema: Type.Integer({ minimum: 0, maximum: 65535 }),
    kind: 'integer',
    default: 8000,
    flag: 'port',
    short: 'p',
    value: 'N',
    env: 'PORT',
    help: 'port to listen on (0: any free port)',
  }),
  grpcPort: declare({
    schema: Type.Integer({ minimum: 0, maximum: 65535 }),
    kind: 'integer',
    // KServe's port for the protocol's gRPC form.
    default: 8081,
    flag: 'grpc-port',
    value: 'N',
    env: 'GRPC_PORT',
    help: 'port of the Open Inference Protocol over gRPC and the gRPC health service (0: gRPC off)',
  }),
  healthPort: declare({
    schema: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
    kind: 'integer',
    // Off unless asked: the second port is the orchestrator's (the deploy kits set 8002), and a
    // laptop running two servers would have them collide on a fixed default (docs/reliability.md).
    defaultText: 'off',
    flag: 'health-port',
    value: 'N',
    env: 'VIGIL_HEALTH_PORT',
    help: 'also answer /alive, /ready and /v2/health/* on this port, from a thread of their own, so probes never wait behind a saturated request path (0: any free port; unset or empty: off)',
  }),
  healthStallMs: declare({
    schema: Type.Integer({ minimum: 100 }),
    kind: 'integer',
    default: 5000,
    flag: 'health-stall-ms',
    value: 'MS',
    env: 'VIGIL_HEALTH_STALL_MS',
    help: "the health port's /alive answers 503 once the server thread has shown no sign of progress for this long",
  }),
  models: declare({
    schema: Type.Array(ModelRef),
    kind: 'model-list',
    default: [],
    defaultText: '',
    flag: 'model',
    short: 'm',
    value: '[NAME=]PATH',
    env: 'VIGIL_MODELS',
    help:
      'also serve this model: a vigil.model.json folder, numbered version folders, a Hugging Face folder, ' +
      'or a hub model hf:owner/name[@revision] fetched once into the cache (repeatable; comma-separated in the environment)',
  }),
  modelsDir: declare({
    schema: Type.String(),
    kind: 'string',
    default: path.join(PACKAGE_ROOT, 'models'),
    defaultText: 'the embedded models',
    flag: 'models-dir',
    value: 'DIR',
    env: 'VIGIL_MODELS_DIR',
    emptyEnvIsValue: true,
    help: 'repository root, one sub-folder per model (empty: none)',
    extraFlags: [{ flag: 'no-embedded', help: 'serve only the --model folders (the same as an empty VIGIL_MODELS_DIR)' }],
  }),
  defaultModel: declare({
    schema: Type.Optional(Type.String()),
    kind: 'string',
    defaultText: 'sentiment',
    flag: 'default-model',
    value: 'NAME',
    env: 'VIGIL_DEFAULT_MODEL',
    help: 'the model answering POST /predict',
  }),
  intraOpThreads: declare({
    schema: Type.Optional(Type.Integer({ minimum: 0 })),
    kind: 'integer',
    defaultText: "the spec's, else 0 (one per core)",
    flag: 'threads',
    value: 'N',
    env: 'VIGIL_THREADS',
    help: 'onnxruntime threads per operator',
  }),
  interOpThreads: declare({
    schema: Type.Optional(Type.Integer({ minimum: 1 })),
    kind: 'integer',
    defaultText: "onnxruntime's",
    flag: 'inter-op-threads',
    value: 'N',
    env: 'VIGIL_INTER_OP_THREADS',
    help: 'onnxruntime threads across operators',
  }),
  sessions: declare({
    schema: Type.Optional(Type.Integer({ minimum: 1 })),
    kind: 'integer',
    defaultText: "the spec's, else 1",
    flag: 'sessions',
    value: 'N',
    env: 'VIGIL_SESSIONS',
    help: 'onnxruntime sessions per model, each on its own worker thread',
  }),
  enginePlacement: declare({
    schema: Type.Union([Type.Literal('auto'), Type.Literal('worker'), Type.Literal('inline')]),
    kind: 'string',
    default: 'auto',
    flag: 'engine-placement',
    value: 'auto|worker|inline',
    env: 'VIGIL_ENGINE_PLACEMENT',
    help: "where onnxruntime runs: auto measures each model's calls at load and runs those within --inline-max-ms on the server thread, the rest on worker threads (a spec's onnx.placement wins)",
  }),
  inlineMaxMs: declare({
    schema: Type.Number({ minimum: 0 }),
    kind: 'number',
    default: 1,
    flag: 'inline-max-ms',
    value: 'MS',
    env: 'VIGIL_INLINE_MAX_MS',
    help: 'longest engine call, at the largest batch, that auto placement runs on the server thread',
  }),
  maxBatchInputs: declare({
    schema: Type.Integer({ minimum: 1 }),
    kind: 'integer',
    default: 64,
    flag: 'max-batch-inputs',
    value: 'N',
    env: 'VIGIL_MAX_BATCH_INPUTS',
    help: 'most inputs per request',
  }),
  maxBatchSize: declare({
    schema: Type.Optional(Type.Integer({ minimum: 1 })),
    kind: 'integer',
    defaultText: "the spec's, else 8",
    flag: 'max-batch-size',
    value: 'N',
    env: 'VIGIL_MAX_BATCH_SIZE',
    help: "most inputs per engine call (a model spec's batching section wins)",
  }),
  maxDelayMs: declare({
    schema: Type.Optional(Type.Number({ minimum: 0 })),
    kind: 'number',
    defaultText: "the spec's, else 0",
    flag: 'max-delay-ms',
    value: 'MS',
    env: 'VIGIL_MAX_DELAY_MS',
    help: 'how long a queued input waits for company while an engine is free',
  }),
  maxQueue: declare({
    schema: Type.Optional(Type.Integer({ minimum: 0 })),
    kind: 'integer',
    defaultText: "the spec's, else 1024",
    flag: 'max-queue',
    value: 'N',
    env: 'VIGIL_MAX_QUEUE',
    help: 'inputs allowed to wait per model; past it 503 + Retry-After',
  }),
  bucketing: declare({
    schema: Type.Optional(Type.Boolean()),
    kind: 'on-off',
    defaultText: "the spec's, else on",
    flag: 'bucketing',
    value: 'on|off',
    env: 'VIGIL_BUCKETING',
    help: 'batch queued texts of similar token length together',
  }),
  bodyLimit: declare({
    schema: Type.Integer({ minimum: 1024 }),
    kind: 'integer',
    default: 1024 * 1024,
    flag: 'body-limit',
    value: 'BYTES',
    env: 'VIGIL_BODY_LIMIT',
    help: 'largest request body (413 past it)',
  }),
  maxImagePixels: declare({
    schema: Type.Integer({ minimum: 1 }),
    kind: 'integer',
    default: 1024 * 1024,
    flag: 'max-image-pixels',
    value: 'N',
    env: 'VIGIL_MAX_IMAGE_PIXELS',
    help: 'most pixels (width x height) a PNG sent to an image model may declare; past it 413 naming the limit, before decoding',
  }),
  maxImageBytes: declare({
    schema: Type.Integer({ minimum: 64 }),
    kind: 'integer',
    default: 512 * 1024,
    flag: 'max-image-bytes',
    value: 'BYTES',
    env: 'VIGIL_MAX_IMAGE_BYTES',
    help: 'most bytes of one PNG (after base64 decoding); past it 413 naming the limit',
  }),
  drainDelayMs: declare({
    schema: Type.Integer({ minimum: 0 }),
    kind: 'integer',
    default: 0,
    flag: 'drain-delay-ms',
    value: 'MS',
    env: 'VIGIL_DRAIN_DELAY_MS',
    help: 'after SIGTERM, how long readiness says 503 before the listener closes',
  }),
  drainIdleMs: declare({
    schema: Type.Integer({ minimum: 0 }),
    kind: 'integer',
    default: 1000,
    flag: 'drain-idle-ms',
    value: 'MS',
    env: 'VIGIL_DRAIN_IDLE_MS',
    help: 'then, with the listener closed, how long open keep-alive connections get to end cleanly after one more answer (Connection: close) before they are closed',
  }),
  maxInFlight: declare({
    schema: Type.Integer({ minimum: 1 }),
    kind: 'integer',
    default: 512,
    flag: 'max-in-flight',
    value: 'N',
    env: 'VIGIL_MAX_IN_FLIGHT',
    help: 'requests in flight in the process, counted from their headers (health and metrics excepted); past it 503 + Retry-After at once, before the body is read',
  }),
  maxInFlightPerModel: declare({
    schema: Type.Integer({ minimum: 1 }),
    kind: 'integer',
    default: 256,
    flag: 'max-in-flight-per-model',
    value: 'N',
    env: 'VIGIL_MAX_IN_FLIGHT_PER_MODEL',
    help: 'inference requests (predict, OIP infer) in flight per model, counted once the body is in; past it 503 + Retry-After at once',
  }),
  refusalPauseMs: declare({
    schema: Type.Integer({ minimum: 0, maximum: 30_000 }),
    kind: 'integer',
    // The smallest Retry-After a refusal gives is 1 s, so a client that honours it never meets
    // the pause; measured at 1,000 connections retrying at once (docs/reliability.md): 0.35 of
    // capacity served without it, 0.77 with 250 ms, 0.87 with 1,000 ms.
    default: 1000,
    flag: 'refusal-pause-ms',
    value: 'MS',
    env: 'VIGIL_REFUSAL_PAUSE_MS',
    help: "after a 503 refusal, the connection it came on is not read for this long (at most the refusal's Retry-After), so a client retrying at once waits in the kernel instead of costing the server thread another refusal (0: read on at once)",
  }),
  requestTimeoutMs: declare({
    schema: Type.Integer({ minimum: 0 }),
    kind: 'integer',
    default: 30_000,
    flag: 'request-timeout-ms',
    value: 'MS',
    env: 'VIGIL_REQUEST_TIMEOUT_MS',
    help: 'headers and body must have arrived within this, else 408 and the connection is closed (0: no limit)',
  }),
  headersTimeoutMs: declare({
    schema: Type.Integer({ minimum: 1 }),
    kind: 'integer',
    default: 10_000,
    flag: 'headers-timeout-ms',
    value: 'MS',
    env: 'VIGIL_HEADERS_TIMEOUT_MS',
    help: 'headers must have arrived within this (slow or silent clients), else 408; at most the request timeout',
  }),
  keepAliveTimeoutMs: declare({
    schema: Type.Integer({ minimum: 1 }),
    kind: 'integer',
    default: 72_000,
    flag: 'keep-alive-timeout-ms',
    value: 'MS',
    env: 'VIGIL_KEEP_ALIVE_TIMEOUT_MS',
    help: 'an idle keep-alive connection is closed after this (above the 60 s idle timeout of common load balancers)',
  }),
  listenBacklog: declare({
    schema: Type.Integer({ minimum: 1, maximum: 65535 }),
    kind: 'integer',
    // Node's default is 511: a burst of new connections past it (clients reconnecting after a
    // deploy, a pool opening 1,000 sockets at once) has its SYNs dropped, and each client waits
    // for its retransmission, 1 s and then 3 s later (docs/reliability.md).
    default: 4096,
    flag: 'listen-backlog',
    value: 'N',
    env: 'VIGIL_LISTEN_BACKLOG',
    help: 'connections the kernel holds for the server to accept (a burst of new connections past it waits 1-3 s for a SYN retry); Linux caps it at net.core.somaxconn',
  }),
  predictionLog: declare({
    schema: Type.Optional(Type.String()),
    kind: 'string',
    defaultText: 'in memory, lost at exit',
    flag: 'prediction-log',
    value: 'PATH|URL',
    env: 'VIGIL_PREDICTION_LOG',
    help:
      'where every prediction is logged, for POST /v1/feedback joins: a SQLite file (one node), or postgres://user@host:5432/db shared by a fleet of replicas (password in the URL, VIGIL_PREDICTION_LOG_PASSWORD or a 0600 file named by VIGIL_PREDICTION_LOG_PASSWORD_FILE)',
  }),
  predictionLogBufferRows: declare({
    schema: Type.Optional(Type.Integer({ minimum: 1 })),
    kind: 'integer',
    defaultText: '50000',
    flag: 'prediction-log-buffer-rows',
    value: 'N',
    env: 'VIGIL_PREDICTION_LOG_BUFFER_ROWS',
    help: 'PostgreSQL log: rows kept in memory while the database is away; past it they are dropped and counted',
  }),
  predictionLogMaxRows: declare({
    schema: Type.Optional(Type.Integer({ minimum: 1 })),
    kind: 'integer',
    defaultText: '1000000 (100000 in memory, 10000000 on PostgreSQL)',
    flag: 'prediction-log-max-rows',
    value: 'N',
    env: 'VIGIL_PREDICTION_LOG_MAX_ROWS',
    help: 'keep at most this many rows in the prediction log',
  }),
  predictionLogSync: declare({
    schema: Type.Boolean(),
    kind: 'boolean',
    default: false,
    defaultText: 'off',
    flag: 'prediction-log-sync',
    env: 'VIGIL_PREDICTION_LOG_SYNC',
    help: "SQLite: commit each request's prediction rows before its answer is sent, on the server thread, so an answered prediction survives a crash (off: rows go to a writer thread every 200 ms and a crash loses at most the last 200 ms of rows; a clean SIGTERM loses none)",
  }),
  predictionLogMaxDays: declare({
    schema: Type.Optional(Type.Number({ minimum: 0 })),
    kind: 'number',
    defaultText: '30',
    flag: 'prediction-log-max-days',
    value: 'DAYS',
    env: 'VIGIL_PREDICTION_LOG_MAX_DAYS',
    help: 'delete prediction log rows older than this',
  }),
  logInputs: declare({
    schema: Type.Optional(Type.Boolean()),
    kind: 'boolean',
    defaultText: 'off',
    flag: 'log-inputs',
    env: 'VIGIL_LOG_INPUTS',
    help: 'also keep a PII-scrubbed copy of text inputs in the prediction log',
  }),
  qualityWindow: declare({
    schema: Type.Optional(Type.Integer({ minimum: 1 })),
    kind: 'integer',
    defaultText: '500',
    flag: 'quality-window',
    value: 'N',
    env: 'VIGIL_QUALITY_WINDOW',
    help: 'labelled predictions behind the vigil_online_* gauges',
  }),
  driftWindow: declare({
    schema: Type.Optional(Type.Integer({ minimum: 1 })),
    kind: 'integer',
    defaultText: '1000',
    flag: 'drift-window',
    value: 'N',
    env: 'VIGIL_DRIFT_WINDOW',
    help: 'inputs behind the vigil_drift_psi gauges',
  }),
  routing: declare({
    /**
     * Per model, as GET /v1/models/{name}/routing spells it: `{"spam": {"champion": "1", "challenger":
     * "2", "canary_weight": 0.1, "shadow": null}}` (docs/releases.md). The fields are checked at
     * startup against the model folders, which name the bad one.
     */
    schema: Type.Optional(Type.Record(Type.String(), Type.Record(Type.String(), Type.Unknown()))),
    kind: 'routing',
    defaultText: 'newest ready version answers',
    env: 'VIGIL_ROUTING',
    help: 'release routing per model: {"NAME": {"champion", "challenger", "canary_weight", "shadow", "shadow_weight"}} (JSON in the environment)',
    extraFlags: [
      { flag: 'champion', value: 'NAME=VERSION', help: "the version that answers NAME's requests (repeatable)" },
      { flag: 'canary', value: 'NAME=VERSION:WEIGHT', help: "send the share WEIGHT (0..1) of NAME's requests to VERSION, the challenger (repeatable)" },
      { flag: 'shadow', value: 'NAME=VERSION[:WEIGHT]', help: "copy NAME's requests (all, or the share WEIGHT) to VERSION: measured, never returned (repeatable)" },
    ],
  }),
  allowedHosts: declare({
    schema: Type.Optional(Type.Array(Type.String())),
    kind: 'string-list',
    defaultText: 'localhost names when bound to loopback, else any',
    flag: 'allowed-hosts',
    value: 'LIST',
    env: 'VIGIL_ALLOWED_HOSTS',
    help: 'host names the server answers to, comma-separated (.example.com takes its subdomains, * any; IP literals always); other Host headers get 421 (docs/security.md)',
  }),
  corsOrigins: declare({
    schema: Type.Optional(Type.Array(Type.String())),
    kind: 'string-list',
    defaultText: 'none: CORS off',
    flag: 'cors-origin',
    value: 'LIST',
    env: 'VIGIL_CORS_ORIGIN',
    help: 'origins (https://app.example) allowed cross-origin requests, comma-separated or repeated',
  }),
  feedbackRateLimit: declare({
    schema: Type.Optional(Type.Integer({ minimum: 0 })),
    kind: 'integer',
    defaultText: '1200',
    flag: 'feedback-rate-limit',
    value: 'N',
    env: 'VIGIL_FEEDBACK_RATE_LIMIT',
    help: 'labels a minute each client may send to POST /v1/feedback (429 past it; 0: no limit)',
  }),
  observability: declare({
    schema: Type.Boolean(),
    kind: 'on-off',
    default: true,
    defaultText: 'on',
    flag: 'observability',
    value: 'on|off',
    env: 'VIGIL_OBSERVABILITY',
    help: 'off stops request metrics, request log lines, the prediction log, drift and online quality: for measuring what they cost (npm run bench), not for production',
  }),
  logLevel: declare({
    schema: Type.Union([Type.Literal('trace'), Type.Literal('debug'), Type.Literal('info'), Type.Literal('warn'), Type.Literal('error'), Type.Literal('fatal'), Type.Literal('silent')]),
    kind: 'string',
    default: 'info',
    flag: 'log-level',
    value: 'LEVEL',
    env: 'LOG_LEVEL',
    help: 'trace, debug, info, warn, error, fatal or silent',
  }),
  uiDir: declare({
    schema: Type.String(),
    kind: 'string',
    default: path.join(PACKAGE_ROOT, 'ui', 'dist'),
    defaultText: 'the built playground (ui/dist)',
    env: 'VIGIL_UI_DIR',
    help: 'folder the playground is served from',
  }),
};

export type SettingKey = keyof typeof SETTINGS;

/** The default as people read it: defaultText, else the value. */
export function defaultLabel(setting: Setting<TSchema>): string {
  if (setting.defaultText !== undefined) return setting.defaultText;
  if (setting.default === undefined) return '';
  return typeof setting.default === 'string' ? setting.default : JSON.stringify(setting.default);
}

/** Flags of the command itself, not settings. */
export const COMMAND_FLAGS: readonly (ExtraFlag & { short?: string })[] = [
  { flag: 'config', short: 'c', value: 'FILE', help: 'JSON file with any of these settings, by their config-file keys' },
  { flag: 'help', short: 'h', help: 'this help' },
];

/**
 * Environment variables read where they take effect rather than through the settings (secrets
 * never go into a config file; OpenTelemetry's are the SDK's own names). Declared here so --help
 * and the README list them with the rest.
 */
export const ENVIRONMENT_ONLY: readonly { env: string; default?: string; help: string }[] = [
  { env: 'HF_TOKEN', help: 'Hugging Face token for remote models and gated hub downloads (or HF_TOKEN_FILE, a file only you can read)' },
  { env: 'HF_ENDPOINT', default: 'https://huggingface.co', help: 'where hub models are fetched from' },
  { env: 'VIGIL_CACHE_DIR', default: '~/.cache/vigil', help: 'cache of fetched hub models (in its hub/ folder)' },
  { env: 'VIGIL_ADMIN_TOKEN', help: 'bearer token that enables the model repository and routing endpoints (unset: they answer 403)' },
  { env: 'VIGIL_FEEDBACK_TOKEN', help: 'bearer token POST /v1/feedback then requires (unset: none needed); not the admin token' },
  { env: 'VIGIL_HISTORY_INTERVAL_SECONDS', default: '5', help: 'sampling interval of GET /v1/monitor/history' },
  { env: 'VIGIL_HISTORY_WINDOW_SECONDS', default: '900', help: 'how far back GET /v1/monitor/history goes' },
  { env: 'OTEL_EXPORTER_OTLP_ENDPOINT', help: 'export OpenTelemetry spans over OTLP/HTTP to this collector (unset: tracing off)' },
];
