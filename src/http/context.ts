import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { ModelMonitor } from '../observability/model-monitor.js';
import type { ShedLog } from '../observability/shed-log.js';
import type { Admission } from '../serving/admission.js';
import type { ModelRegistry } from '../serving/registry.js';
import type { Dataplane } from '../serving/dataplane.js';
import type { OipDataplane } from '../serving/oip/oip-dataplane.js';
import type { PredictionRouter } from '../serving/router.js';
import type { RefusalPause } from './refusal-pause.js';
import type { SecuritySettings } from './security/index.js';

export interface HttpLimits {
  /** Largest request body, in bytes (413 past it). */
  bodyLimit: number;
  /** Most inputs one predict request may carry. */
  maxBatchInputs: number;
  /** Whole request (headers and body) must arrive within this; 408 past it. 0: no limit. */
  requestTimeoutMs: number;
  /** Headers must arrive within this (slow or silent clients); 408 past it. */
  headersTimeoutMs: number;
  /** An idle keep-alive connection is closed after this. */
  keepAliveTimeoutMs: number;
}

/** What every route plugin may use; built once by the server. */
export interface ServerContext {
  /** The inference core every protocol adapter calls (predict, stream, readiness, health, lifecycle). */
  dataplane: Dataplane;
  /** The Open Inference Protocol over the dataplane (tensors, codecs, classification, repository). */
  oip: OipDataplane;
  registry: ModelRegistry;
  /** Picks the version per request (champion, canary, shadow) and falls back; one per server, so its metrics are declared once. */
  router: PredictionRouter;
  metrics: Metrics;
  logger: Logger;
  limits: HttpLimits;
  /**
   * draining: set when shutdown begins (readiness 503, every answer `Connection: close`);
   * closing: set once the listener has closed (requests still arriving are refused with 503).
   */
  lifecycle: { draining: boolean; closing?: boolean; startedAt: number };
  /** Requests in flight per process and per model, counted from the first hook. */
  admission: Admission;
  /** Holds a refused request's connection back for a while (--refusal-pause-ms). */
  refusalPause: RefusalPause;
  /** Refusals, summed up in at most one log line per second. */
  shedLog: ShedLog;
  /** Folder of the built web UI, when there is one. */
  uiDir?: string;
  version: string;
  /** Prediction log, drift and delayed-label feedback (POST /v1/feedback); absent with --observability off. */
  monitor?: ModelMonitor;
  /** False with --observability off: no per-request metrics or log lines (absent: on). */
  observe?: boolean;
  /** Host allowlist, CORS, feedback token and rate limit (docs/security.md). */
  security: SecuritySettings;
}
