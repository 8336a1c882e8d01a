import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { REMOTE_LATENCY_BUCKETS } from '../../observability/metrics.js';

/** Status labels of `vigil_remote_upstream_responses_total`: exact codes worth telling apart, else the class. */
const KNOWN_STATUSES = new Set([200, 400, 401, 403, 404, 408, 413, 422, 429, 500, 502, 503, 504]);

export type UpstreamOutcome = number | 'network_error' | 'timeout';

export function statusLabel(outcome: UpstreamOutcome): string {
  if (typeof outcome === 'string') return outcome;
  if (KNOWN_STATUSES.has(outcome)) return String(outcome);
  return `${Math.floor(outcome / 100)}xx`;
}

/** Why a retry happened: a bounded set. */
export type RetryReason = 'network_error' | 'rate_limited' | 'server_error';

/**
 * Metrics of calls to remote APIs. The first three keep the mood app's names (requests and
 * errors of "API" calls, latency of successful ones) so its dashboards keep working; the
 * `vigil_remote_*` family explains them per model: upstream status codes, retries, the circuit,
 * tokens, time to first token and the concurrency cap. The `model` label is Vigil's model name
 * (from the repository), never anything a caller sends.
 */
export class RemoteMetrics {
  private static readonly byRegistry = new WeakMap<Registry, RemoteMetrics>();

  /** One set per registry: several remote models share the metric families. */
  static for(registry: Registry): RemoteMetrics {
    let metrics = RemoteMetrics.byRegistry.get(registry);
    if (!metrics) {
      metrics = new RemoteMetrics(registry);
      RemoteMetrics.byRegistry.set(registry, metrics);
    }
    return metrics;
  }

  /** The Vigil error codes errors_api_total counts, each exported at 0 from start-up. */
  static readonly ERROR_REASONS = ['upstream_timeout', 'upstream_rate_limited', 'upstream_unavailable', 'upstream_error', 'auth_failed', 'circuit_open', 'overloaded', 'client_closed'] as const;

  readonly requests: Counter;
  readonly errors: Counter<'reason'>;
  readonly latency: Histogram;
  readonly timeToFirstToken: Histogram<'model'>;
  readonly upstreamResponses: Counter<'model' | 'status'>;
  readonly retries: Counter<'model' | 'reason'>;
  readonly circuitState: Gauge<'model'>;
  readonly tokens: Counter<'model' | 'kind'>;
  readonly inFlight: Gauge<'model'>;
  readonly queued: Gauge<'model'>;

  private constructor(registry: Registry) {
    const registers = [registry];
    this.requests = new Counter({ name: 'requests_api_total', help: 'Prediction requests sent to remote APIs (counted once per request, before retries).', registers });
    this.errors = new Counter({
      name: 'errors_api_total',
      help: 'Prediction requests to remote APIs that failed, by Vigil error code (upstream_timeout, upstream_rate_limited, upstream_unavailable, upstream_error, auth_failed, circuit_open, overloaded, client_closed).',
      labelNames: ['reason'] as const,
      registers,
    });
    // 0, not absent: a dashboard or an alert on these must read 0 before the first remote call.
    for (const reason of RemoteMetrics.ERROR_REASONS) this.errors.inc({ reason }, 0);
    this.latency = new Histogram({
      name: 'api_generation_latency_seconds',
      help: 'End-to-end latency of successful remote API predictions, retries and queueing included.',
      buckets: REMOTE_LATENCY_BUCKETS,
      registers,
    });
    this.timeToFirstToken = new Histogram({
      name: 'vigil_remote_time_to_first_token_seconds',
      help: 'Time from a streamed remote request to its first generated token.',
      labelNames: ['model'] as const,
      buckets: REMOTE_LATENCY_BUCKETS,
      registers,
    });
    this.upstreamResponses = new Counter({
      name: 'vigil_remote_upstream_responses_total',
      help: 'Upstream call attempts by outcome: HTTP status (exact for common codes, else the class such as 5xx), network_error or timeout.',
      labelNames: ['model', 'status'] as const,
      registers,
    });
    this.retries = new Counter({
      name: 'vigil_remote_retries_total',
      help: 'Upstream calls retried, by reason (network_error, rate_limited, server_error).',
      labelNames: ['model', 'reason'] as const,
      registers,
    });
    this.circuitState = new Gauge({
      name: 'vigil_remote_circuit_state',
      help: 'Circuit breaker state per remote model: 0 closed, 1 open, 2 half-open.',
      labelNames: ['model'] as const,
      registers,
    });
    this.tokens = new Counter({
      name: 'vigil_remote_tokens_total',
      help: 'Tokens the upstream reported using (usage), by kind (prompt, completion).',
      labelNames: ['model', 'kind'] as const,
      registers,
    });
    this.inFlight = new Gauge({
      name: 'vigil_remote_upstream_in_flight',
      help: 'Upstream calls running now, per remote model (capped by remote.concurrency.maxInFlight).',
      labelNames: ['model'] as const,
      registers,
    });
    this.queued = new Gauge({
      name: 'vigil_remote_upstream_queued',
      help: 'Requests waiting for an upstream call slot, per remote model (capped by remote.concurrency.maxQueue).',
      labelNames: ['model'] as const,
      registers,
    });
  }
}
