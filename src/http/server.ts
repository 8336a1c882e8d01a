import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { ConfigError, PACKAGE_ROOT, type ServeConfig } from '../config/serve-config.js';
import { VigilError } from '../errors.js';
import { fetchHubModel, hubOptionsFromEnvironment, isHubReference, parseHubReference } from '../models/hub.js';
import { readModelFolder, scanRepository, toModelName, type ModelSource } from '../models/repository.js';
import { createLogger, type Logger } from '../observability/logger.js';
import { Metrics } from '../observability/metrics.js';
import { ModelMonitor } from '../observability/model-monitor.js';
import { startTracing } from '../observability/tracing.js';
import { ShedLog } from '../observability/shed-log.js';
import { Admission } from '../serving/admission.js';
import { ModelRegistry } from '../serving/registry.js';
import { RemoteMetrics } from '../runtimes/remote/remote-metrics.js';
import { Dataplane } from '../serving/dataplane.js';
import { OipDataplane } from '../serving/oip/oip-dataplane.js';
import { PredictionRouter } from '../serving/router.js';
import { parseRoutingChange } from '../serving/routing-policy.js';
import { registerRoutingFingerprint, RoutingSync } from '../serving/routing-sync.js';
import { parseStoreTarget } from '../store/target.js';
import { startGrpcServer, type GrpcListener } from '../grpc/server.js';
import { buildApp } from './app.js';
import { ConnectionDrain } from './drain.js';
import { RefusalPause } from './refusal-pause.js';
import { HealthListenError, startHealthListener, type HealthListener } from './health-listener.js';
import { readinessBody } from './routes/health.js';
import type { ServerContext } from './context.js';
import { parseCorsOrigins } from './security/cors.js';
import { DEFAULT_FEEDBACK_RATE_LIMIT, FEEDBACK_TOKEN_ENV } from './security/feedback-guard.js';
import { parseAllowedHosts } from './security/host-allowlist.js';
import type { SecuritySettings } from './security/index.js';

export interface RunningServer {
  app: FastifyInstance;
  context: ServerContext;
  /** http://host:port as bound (port 0 resolves to the real one). */
  url: string;
  /** The gRPC port as bound; undefined when gRPC is off (--grpc-port 0). */
  grpcPort?: number;
  /** The health port as bound; undefined when it is off (no --health-port). */
  healthPort?: number;
  /** Readiness 503, wait drainDelayMs, finish in-flight requests, free the models. */
  shutdown(reason: string): Promise<void>;
}

export const VIGIL_VERSION: string = (
  JSON.parse(readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }
).version;

/** Every model on disk the config names: the repository's, then the extra folders (not hub ids). */
export function modelSources(config: ServeConfig): ModelSource[] {
  const sources = config.modelsDir ? scanRepository(config.modelsDir) : [];
  for (const ref of config.models) if (!isHubReference(ref.path)) sources.push(...readModelFolder(ref.path, ref.name));
  return sources;
}

/** Hub models (`hf:owner/name`) are fetched into the cache after the listener is up. */
function fetchHubModels(config: ServeConfig, registry: ModelRegistry): Promise<void>[] {
  return config.models
    .filter((ref) => isHubReference(ref.path))
    .map((ref) =>
      registry.addWhenFetched(ref.name ?? ref.path, async () => {
        const folder = await fetchHubModel(ref.path, hubOptionsFromEnvironment(process.env));
        const repoName = parseHubReference(ref.path).repo.split('/')[1]!;
        return readModelFolder(folder, ref.name ?? toModelName(repoName)).map((source) => ({ ...source, hub: ref.path }));
      }),
    );
}

/**
 * The config's routing section (and --champion/--canary/--shadow), checked against the model
 * folders before anything listens: a version that is not there stops the start with its name.
 * Nothing is loaded yet, so versions need not be ready; hub models are not known yet at all.
 */
function applyStartupRouting(config: ServeConfig, registry: ModelRegistry, logger: Logger): void {
  for (const [model, entry] of Object.entries(config.routing ?? {})) {
    const where = `routing.${model}`;
    if (!registry.has(model)) {
      throw new ConfigError(`${where}: no model "${model}" is served from disk (models: ${registry.names().join(', ') || 'none'})`);
    }
    try {
      registry.routing.change(model, registry.versions(model), parseRoutingChange(entry, `${where}.`), { atStartup: true });
    } catch (error) {
      if (error instanceof VigilError) throw new ConfigError(`${where}: ${error.message}`);
      throw error;
    }
    const { versions: _versions, ...routing } = registry.routing.describe(model, registry.versions(model));
    logger.info({ model, routing }, 'routing from the configuration');
  }
}

/** The security settings of the config and the environment's feedback token, checked. */
export function securitySettings(config: ServeConfig, env: NodeJS.ProcessEnv = process.env): SecuritySettings {
  const checked = <T>(what: string, parse: () => T): T => {
    try {
      return parse();
    } catch (error) {
      throw new ConfigError(`${what}: ${(error as Error).message}`);
    }
  };
  const feedbackToken = env[FEEDBACK_TOKEN_ENV]?.trim();
  return {
    boundHost: config.host,
    allowedHosts: config.allowedHosts && checked('--allowed-hosts', () => parseAllowedHosts(config.allowedHosts!)),
    corsOrigins: checked('--cors-origin', () => parseCorsOrigins(config.corsOrigins ?? [])),
    feedbackToken: feedbackToken ? feedbackToken : undefined,
    feedbackRateLimit: config.feedbackRateLimit ?? DEFAULT_FEEDBACK_RATE_LIMIT,
  };
}

/**
 * Starts listening first and loads models after, so liveness answers at once while
 * readiness stays 503 until every local model is loaded and warmed up.
 */
export async function startServer(config: ServeConfig, options: { logger?: Logger } = {}): Promise<RunningServer> {
  const security = securitySettings(config);
  const logger = options.logger ?? createLogger({ level: config.logLevel });
  const metrics = new Metrics();
  // The remote API's series exist from start-up (0), also when no remote model is configured.
  RemoteMetrics.for(metrics.registry);
  // Prediction log (SQLite in memory unless --prediction-log names a file or a postgres:// URL), drift, feedback.
  // `--observability off` (bench only): no monitor at all, so nothing per prediction reaches it.
  const monitor = !config.observability ? undefined : new ModelMonitor({
    registry: metrics.registry,
    logger,
    log: { path: config.predictionLog, maxRows: config.predictionLogMaxRows, maxAgeDays: config.predictionLogMaxDays, bufferRows: config.predictionLogBufferRows, synchronous: config.predictionLogSync },
    qualityWindow: config.qualityWindow,
    driftWindow: config.driftWindow,
    logInputs: config.logInputs,
  });
  const registry = new ModelRegistry(metrics, logger, {
    defaultModel: config.defaultModel,
    intraOpThreads: config.intraOpThreads,
    interOpThreads: config.interOpThreads,
    sessions: config.sessions,
    engine: { placement: config.enginePlacement, inlineMaxMs: config.inlineMaxMs },
    observe: config.observability,
    monitor,
    imageLimits: { maxPixels: config.maxImagePixels, maxBytes: config.maxImageBytes },
    batching: { maxBatchSize: config.maxBatchSize, maxDelayMs: config.maxDelayMs, maxQueue: config.maxQueue, bucketing: config.bucketing },
  });
  for (const source of modelSources(config)) registry.add(source);
  if (registry.all().length === 0) logger.warn('no models configured: pass --model PATH or put model folders in the models directory');
  applyStartupRouting(config, registry, logger);
  registerRoutingFingerprint(metrics.registry, registry);
  // With a PostgreSQL prediction log, routing changes are shared through the same database.
  const storeTarget = parseStoreTarget(config.predictionLog);
  const routingSync = storeTarget.kind === 'postgres' ? new RoutingSync({ url: storeTarget.url, host: registry, registry: metrics.registry, logger }) : undefined;
  routingSync?.start().catch((error: unknown) => logger.error({ err: error }, 'shared routing state could not start'));

  const router = new PredictionRouter(registry, metrics, logger);
  const lifecycle = { draining: false, startedAt: Date.now() };
  const refusalPause = new RefusalPause(config.refusalPauseMs);
  metrics.heldConnections = () => refusalPause.heldConnections;
  const dataplane = new Dataplane(registry, router, { maxBatchInputs: config.maxBatchInputs, lifecycle });
  const context: ServerContext = {
    dataplane,
    oip: new OipDataplane(dataplane),
    registry,
    router,
    metrics,
    logger,
    limits: {
      bodyLimit: config.bodyLimit,
      maxBatchInputs: config.maxBatchInputs,
      requestTimeoutMs: config.requestTimeoutMs,
      headersTimeoutMs: config.headersTimeoutMs,
      keepAliveTimeoutMs: config.keepAliveTimeoutMs,
    },
    lifecycle,
    admission: new Admission({ maxInFlight: config.maxInFlight, maxInFlightPerModel: config.maxInFlightPerModel }),
    refusalPause,
    shedLog: new ShedLog(logger),
    uiDir: config.uiDir,
    version: VIGIL_VERSION,
    monitor,
    observe: config.observability,
    security,
  };
  if (monitor) {
    logger.info(
      { prediction_log: monitor.log.location, backend: monitor.log.kind, max_rows: monitor.log.maxRows, max_age_days: monitor.log.maxAgeDays },
      monitor.log.inMemory ? 'prediction log in memory: pass --prediction-log PATH to keep it (and feedback joins) across restarts' : 'prediction log',
    );
  } else {
    logger.warn('observability is off (--observability off): no request metrics, request logs, prediction log, drift or online quality');
  }
  // Before the app is built: its request hooks are registered only when tracing is on.
  const tracing = await startTracing({ serviceVersion: VIGIL_VERSION });
  if (tracing.enabled) logger.info({ endpoint: process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? process.env.OTEL_EXPORTER_OTLP_ENDPOINT }, 'tracing: exporting spans over OTLP/HTTP');
  const app = await buildApp(context);
  const connections = new ConnectionDrain(app.server);
  await app.listen({ host: config.host, port: config.port, backlog: config.listenBacklog });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const url = `http://${config.host === '0.0.0.0' ? '127.0.0.1' : config.host}:${port}`;
  let grpc: GrpcListener | undefined;
  if (config.grpcPort !== 0) {
    try {
      grpc = await startGrpcServer(context, { host: config.host, port: config.grpcPort, maxMessageBytes: config.bodyLimit });
    } catch (error) {
      await app.close();
      throw new ConfigError(`cannot listen for gRPC on ${config.host}:${config.grpcPort}: ${(error as Error).message} (--grpc-port N, or 0 to turn gRPC off)`);
    }
    logger.info({ grpc_port: grpc.port, address: `${config.host}:${grpc.port}` }, 'grpc: listening (inference.GRPCInferenceService, grpc.health.v1.Health)');
  }
  let health: HealthListener | undefined;
  if (config.healthPort !== undefined) {
    try {
      health = await startHealthListener({
        host: config.host,
        port: config.healthPort,
        stallMs: config.healthStallMs,
        startedAt: lifecycle.startedAt,
        readiness: () => readinessBody(dataplane),
        onFailure: (error) => logger.error({ err: error }, 'health port: its thread stopped; probes of the health port now fail'),
      });
    } catch (error) {
      await grpc?.close();
      await app.close();
      if (!(error instanceof HealthListenError)) throw error;
      throw new ConfigError(`cannot listen for health checks on ${config.host}:${config.healthPort}: ${error.code ? `${error.code}: ` : ''}${error.message} (--health-port N, or unset it to turn the health port off)`);
    }
    logger.info({ health_port: health.port, address: `${config.host}:${health.port}`, stall_ms: config.healthStallMs }, 'health port: listening on a thread of its own (/alive, /ready, /v2/health/live, /v2/health/ready)');
  }
  logger.info({ url, models: registry.names(), ...(grpc ? { grpc_port: grpc.port } : {}), ...(health ? { health_port: health.port } : {}) }, 'listening; loading models');

  // Models on disk load at once; each hub model loads as soon as it is fetched.
  const loaded = Promise.all([registry.loadAll(), ...fetchHubModels(config, registry).map((fetched) => fetched.then(() => registry.loadAll()))]);

  let closing: Promise<void> | undefined;
  const shutdown = (reason: string): Promise<void> => {
    closing ??= (async () => {
      logger.info({ reason, drain_delay_ms: config.drainDelayMs }, 'shutting down: readiness is now 503');
      context.lifecycle.draining = true;
      refusalPause.release(); // held connections are read now, and answered with Connection: close
      health?.update(); // the health port's /ready says 503 now, not at the next heartbeat
      if (config.drainDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, config.drainDelayMs));
      // No new connections; open ones end after their next answer (Connection: close) or the grace.
      // gRPC stops taking calls at the same time and waits for its in-flight ones.
      const grpcClosed = grpc?.close();
      await connections.closeListener(config.drainIdleMs);
      context.lifecycle.closing = true;
      await app.close(); // closes what is still idle, waits for in-flight requests
      await grpcClosed;
      context.shedLog.flush();
      await loaded.catch(() => undefined);
      await routingSync?.close();
      await registry.unloadAll();
      await monitor?.close(); // writes the prediction log rows still buffered
      await tracing.shutdown().catch((error: unknown) => logger.warn({ err: error }, 'tracing: flushing spans failed'));
      await health?.close(); // last: liveness holds while the drain runs
      logger.info('stopped');
    })();
    return closing;
  };
  return { app, context, url, grpcPort: grpc?.port, healthPort: health?.port, shutdown };
}
