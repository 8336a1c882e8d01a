import { parseArgs } from 'node:util';
import {
  ConfigError,
  fromEnvironment,
  fromFile,
  parseModelRef,
  resolveServeConfig,
  type ServeConfig,
} from '../config/serve-config.js';
import { startServer } from '../http/server.js';

const HELP = `usage: vigil serve [options]

Serves the embedded models (models/) and any --model folders over HTTP, with the web UI at /.

options:
  --host HOST              address to bind (default 0.0.0.0; HOST)
  --port N                 port (default 8000; PORT)
  --model [NAME=]PATH      also serve this model folder: a vigil.model.json folder, numbered
                           version folders, or a Hugging Face folder (repeatable; VIGIL_MODELS);
                           or a hub model hf:owner/name[@revision], fetched once into the cache
                           (HF_ENDPOINT, HF_TOKEN, VIGIL_CACHE_DIR)
  --models-dir DIR         repository root, one sub-folder per model (default: the embedded models;
                           VIGIL_MODELS_DIR)
  --no-embedded            serve only the --model folders
  --default-model NAME     model answering POST /predict (default: sentiment)
  --threads N              onnxruntime threads per operator, 0 = one per core (VIGIL_THREADS)
  --inter-op-threads N     onnxruntime threads across operators
  --sessions N             onnxruntime sessions per model, each on its own worker thread
                           (default 1; VIGIL_SESSIONS)
  --max-batch-inputs N     most inputs per request (default 64)
  --max-batch-size N       most inputs per engine call (default 8; VIGIL_MAX_BATCH_SIZE)
  --max-delay-ms MS        how long a queued input waits for company (default 0; VIGIL_MAX_DELAY_MS)
  --max-queue N            inputs allowed to wait per model; past it 503 + Retry-After
                           (default 1024; VIGIL_MAX_QUEUE). A model spec's "batching" wins.
  --bucketing on|off       batch queued texts of similar token length together (default on)
  --body-limit BYTES       largest request body (default 1048576)
  --drain-delay-ms N       after SIGTERM, keep answering with readiness 503 this long (default 0)
  --prediction-log PATH    SQLite file of every prediction, for POST /v1/feedback joins (default:
                           in memory, lost at exit; VIGIL_PREDICTION_LOG)
  --prediction-log-max-rows N
                           keep at most N rows (default 1000000, 100000 in memory;
                           VIGIL_PREDICTION_LOG_MAX_ROWS)
  --prediction-log-max-days D
                           delete rows older than D days (default 30; VIGIL_PREDICTION_LOG_MAX_DAYS)
  --log-inputs             also keep a PII-scrubbed copy of text inputs in the log (VIGIL_LOG_INPUTS)
  --quality-window N       labelled predictions behind the vigil_online_* gauges (default 500)
  --drift-window N         inputs behind the vigil_drift_psi gauges (default 1000)
  --config FILE            JSON file with any of the settings above (camelCase keys)
  --log-level LEVEL        trace, debug, info, warn, error (LOG_LEVEL)
`;

function flagsToConfig(values: Record<string, string | boolean | string[] | undefined>): Partial<ServeConfig> {
  const int = (key: string): number | undefined => {
    const raw = values[key];
    if (raw === undefined) return undefined;
    const n = Number(raw);
    if (!Number.isInteger(n)) throw new ConfigError(`--${key} must be a whole number, got "${String(raw)}"`);
    return n;
  };
  return {
    host: values.host as string | undefined,
    port: int('port'),
    modelsDir: values['no-embedded'] ? '' : (values['models-dir'] as string | undefined),
    models: (values.model as string[] | undefined)?.map(parseModelRef),
    defaultModel: values['default-model'] as string | undefined,
    intraOpThreads: int('threads'),
    interOpThreads: int('inter-op-threads'),
    sessions: int('sessions'),
    maxBatchInputs: int('max-batch-inputs'),
    maxBatchSize: int('max-batch-size'),
    maxDelayMs: values['max-delay-ms'] === undefined ? undefined : nonNegative(values['max-delay-ms'], 'max-delay-ms'),
    maxQueue: int('max-queue'),
    bucketing: onOff(values.bucketing, 'bucketing'),
    bodyLimit: int('body-limit'),
    drainDelayMs: int('drain-delay-ms'),
    predictionLog: values['prediction-log'] as string | undefined,
    predictionLogMaxRows: int('prediction-log-max-rows'),
    predictionLogMaxDays: values['prediction-log-max-days'] === undefined ? undefined : nonNegative(values['prediction-log-max-days'], 'prediction-log-max-days'),
    logInputs: values['log-inputs'] ? true : undefined,
    qualityWindow: int('quality-window'),
    driftWindow: int('drift-window'),
    logLevel: values['log-level'] as string | undefined,
  };
}

function onOff(raw: unknown, key: string): boolean | undefined {
  if (raw === undefined) return undefined;
  if (raw === 'on' || raw === 'true') return true;
  if (raw === 'off' || raw === 'false') return false;
  throw new ConfigError(`--${key} must be on or off, got "${String(raw)}"`);
}

function nonNegative(raw: unknown, key: string): number {
  const n = Number(raw);
  if (raw === '' || !Number.isFinite(n) || n < 0) throw new ConfigError(`--${key} must be a number >= 0, got "${String(raw)}"`);
  return n;
}

export async function run(args: string[]): Promise<number> {
  let config: ServeConfig;
  try {
    const { values } = parseArgs({
      args,
      options: {
        host: { type: 'string' },
        port: { type: 'string', short: 'p' },
        model: { type: 'string', short: 'm', multiple: true },
        'models-dir': { type: 'string' },
        'no-embedded': { type: 'boolean' },
        'default-model': { type: 'string' },
        threads: { type: 'string' },
        'inter-op-threads': { type: 'string' },
        sessions: { type: 'string' },
        'max-batch-inputs': { type: 'string' },
        'max-batch-size': { type: 'string' },
        'max-delay-ms': { type: 'string' },
        'max-queue': { type: 'string' },
        bucketing: { type: 'string' },
        'body-limit': { type: 'string' },
        'drain-delay-ms': { type: 'string' },
        'prediction-log': { type: 'string' },
        'prediction-log-max-rows': { type: 'string' },
        'prediction-log-max-days': { type: 'string' },
        'log-inputs': { type: 'boolean' },
        'quality-window': { type: 'string' },
        'drift-window': { type: 'string' },
        config: { type: 'string', short: 'c' },
        'log-level': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help) {
      console.log(HELP);
      return 0;
    }
    const file = values.config ? fromFile(values.config) : {};
    config = resolveServeConfig(file, fromEnvironment(process.env), flagsToConfig(values));
  } catch (error) {
    console.error(`vigil serve: ${(error as Error).message}\n\n${HELP}`);
    return 2;
  }

  const server = await startServer(config);
  const exitCode = await new Promise<number>((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      server.shutdown(signal).then(
        () => resolve(0),
        (error: unknown) => {
          server.context.logger.error({ err: error }, 'shutdown failed');
          resolve(1);
        },
      );
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  return exitCode;
}
