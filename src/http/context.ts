import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { ModelMonitor } from '../observability/model-monitor.js';
import type { ModelRegistry } from '../serving/registry.js';
import type { PredictionRouter } from '../serving/router.js';
import type { SecuritySettings } from './security/index.js';

export interface HttpLimits {
  /** Largest request body, in bytes (413 past it). */
  bodyLimit: number;
  /** Most inputs one predict request may carry. */
  maxBatchInputs: number;
}

/** What every route plugin may use; built once by the server. */
export interface ServerContext {
  registry: ModelRegistry;
  /** Picks the version per request (champion, canary, shadow) and falls back; one per server, so its metrics are declared once. */
  router: PredictionRouter;
  metrics: Metrics;
  logger: Logger;
  limits: HttpLimits;
  /** Set when shutdown begins: readiness turns 503 while in-flight requests finish. */
  lifecycle: { draining: boolean; startedAt: number };
  /** Folder of the built web UI, when there is one. */
  uiDir?: string;
  version: string;
  /** Prediction log, drift and delayed-label feedback (POST /v1/feedback). */
  monitor?: ModelMonitor;
  /** Host allowlist, CORS, feedback token and rate limit (docs/security.md). */
  security: SecuritySettings;
}
