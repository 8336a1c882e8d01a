import { monitorEventLoopDelay, type ELDHistogram } from 'node:perf_hooks';
import type { Registry } from 'prom-client';

/**
 * A short in-process history of the golden signals, for the web UI's Monitor tab: it cannot
 * query Prometheus (there may be none), so the server samples its own prom-client registry
 * every few seconds and keeps the last ~15 minutes in a ring buffer.
 *
 * Each point describes the interval that ended at `t`: counter deltas turned into rates and
 * ratios, histogram bucket deltas turned into quantiles the way PromQL's histogram_quantile
 * does it, and gauges as read at `t`.
 */

export interface HistoryPoint {
  /** End of the interval, epoch milliseconds. */
  t: number;
  requests_per_second: number;
  /** 5xx responses / responses in the interval; 0 when there were none. */
  error_ratio: number;
  /** Omitted when no request finished in the interval (a quantile of nothing is undefined). */
  latency_p50_seconds?: number;
  latency_p95_seconds?: number;
  latency_p99_seconds?: number;
  /** CPU seconds per wall-clock second: 1 = one core busy. */
  cpu_ratio: number;
  rss_bytes: number;
  /** p99 of the event-loop delay over the interval. */
  event_loop_lag_seconds: number;
  /** Predictions made in the interval, per model and label. */
  predictions: Record<string, Record<string, number>>;
}

export interface HistoryResponse {
  interval_seconds: number;
  points: HistoryPoint[];
}

/**
 * Routes left out of traffic, errors and latency: Prometheus' scrapes, the Monitor tab's own
 * polling and health probes (Vigil's own and the Open Inference Protocol's) would otherwise
 * show up as traffic on an idle server, and a readiness 503 while models load or the server
 * drains is not a failed user request. The Prometheus SLO rules
 * (deploy/prometheus/rules/recording.yml) leave out the same routes; test/integration/slo-routes.test.ts
 * keeps the two in step.
 */
export const SELF_ROUTES: ReadonlySet<string> = new Set([
  '/metrics',
  '/v1/monitor/history',
  '/alive',
  '/ready',
  '/health',
  '/v2/health/live',
  '/v2/health/ready',
  '/v2/models/:name/ready',
  '/v2/models/:name/versions/:version/ready',
]);

/** Cumulative readings of the registry at one instant. */
export interface Snapshot {
  /** Epoch milliseconds. */
  at: number;
  requests: number;
  errors: number;
  /** Cumulative count per bucket upper bound (`le`), +Inf included, summed over routes. */
  latencyBuckets: Map<number, number>;
  cpuSeconds: number;
  rssBytes: number;
  /** Cumulative predictions per model, then label (summed over versions). */
  predictions: Map<string, Map<string, number>>;
}

interface MetricValue {
  labels: Record<string, string | number | undefined>;
  value: number;
  metricName?: string;
}

/**
 * The φ-quantile of the observations between two readings of a cumulative histogram, computed
 * as Prometheus' histogram_quantile does: find the bucket holding the rank, interpolate
 * linearly inside it (the first bucket starts at 0); a rank in the +Inf bucket answers the
 * highest finite bound. Undefined when nothing was observed.
 */
export function quantileFromBuckets(q: number, buckets: ReadonlyMap<number, number>): number | undefined {
  const sorted = [...buckets.entries()].sort(([a], [b]) => a - b);
  const total = sorted.at(-1)?.[1] ?? 0;
  if (total <= 0 || sorted.length === 0) return undefined;
  if (q <= 0) return 0;
  const rank = Math.min(q, 1) * total;
  let lowerBound = 0;
  let countBelow = 0;
  for (const [upperBound, cumulative] of sorted) {
    if (cumulative >= rank) {
      if (upperBound === Infinity) return lowerBound; // highest finite bound, as Prometheus does
      const inBucket = cumulative - countBelow;
      if (inBucket <= 0) return upperBound;
      return lowerBound + (upperBound - lowerBound) * ((rank - countBelow) / inBucket);
    }
    lowerBound = upperBound;
    countBelow = cumulative;
  }
  return lowerBound;
}

/** Increase of a counter between two readings; a drop means it restarted from zero. */
export function counterIncrease(before: number, after: number): number {
  return after >= before ? after - before : after;
}

/** Per-bucket increase between two cumulative histogram readings. */
export function bucketIncrease(before: ReadonlyMap<number, number>, after: ReadonlyMap<number, number>): Map<number, number> {
  const delta = new Map<number, number>();
  for (const [le, count] of after) delta.set(le, counterIncrease(before.get(le) ?? 0, count));
  return delta;
}

/** Turns two consecutive snapshots into one history point. */
export function pointBetween(before: Snapshot, after: Snapshot, eventLoopLagSeconds: number): HistoryPoint {
  const seconds = Math.max((after.at - before.at) / 1000, 1e-9);
  const requests = counterIncrease(before.requests, after.requests);
  const errors = counterIncrease(before.errors, after.errors);
  const buckets = bucketIncrease(before.latencyBuckets, after.latencyBuckets);

  const predictions: Record<string, Record<string, number>> = {};
  for (const [model, labels] of after.predictions) {
    const previous = before.predictions.get(model);
    for (const [label, count] of labels) {
      const increase = counterIncrease(previous?.get(label) ?? 0, count);
      if (increase > 0) (predictions[model] ??= {})[label] = increase;
    }
  }

  const point: HistoryPoint = {
    t: after.at,
    requests_per_second: requests / seconds,
    error_ratio: requests > 0 ? errors / requests : 0,
    cpu_ratio: counterIncrease(before.cpuSeconds, after.cpuSeconds) / seconds,
    rss_bytes: after.rssBytes,
    event_loop_lag_seconds: eventLoopLagSeconds,
    predictions,
  };
  const p50 = quantileFromBuckets(0.5, buckets);
  if (p50 !== undefined) {
    point.latency_p50_seconds = p50;
    point.latency_p95_seconds = quantileFromBuckets(0.95, buckets);
    point.latency_p99_seconds = quantileFromBuckets(0.99, buckets);
  }
  return point;
}

async function valuesOf(registry: Registry, name: string): Promise<MetricValue[]> {
  const metric = registry.getSingleMetric(name);
  if (!metric) return [];
  const data = (await metric.get()) as { values: MetricValue[] };
  return data.values;
}

const parseLe = (le: string | number | undefined): number => (le === '+Inf' ? Infinity : Number(le));

/** Reads the cumulative values a point needs; metrics not registered read as zero. */
export async function takeSnapshot(registry: Registry, at: number = Date.now()): Promise<Snapshot> {
  let requests = 0;
  let errors = 0;
  const latencyBuckets = new Map<number, number>();
  for (const v of await valuesOf(registry, 'http_request_duration_seconds')) {
    if (SELF_ROUTES.has(String(v.labels.route))) continue;
    if (v.metricName === 'http_request_duration_seconds_bucket') {
      const le = parseLe(v.labels.le);
      latencyBuckets.set(le, (latencyBuckets.get(le) ?? 0) + v.value);
    } else if (v.metricName === 'http_request_duration_seconds_count') {
      requests += v.value;
      if (String(v.labels.status).startsWith('5')) errors += v.value;
    }
  }

  const predictions = new Map<string, Map<string, number>>();
  for (const v of await valuesOf(registry, 'vigil_predictions_total')) {
    const model = String(v.labels.model);
    const label = String(v.labels.label);
    const perLabel = predictions.get(model) ?? new Map<string, number>();
    perLabel.set(label, (perLabel.get(label) ?? 0) + v.value);
    predictions.set(model, perLabel);
  }

  const first = async (name: string) => (await valuesOf(registry, name))[0]?.value ?? 0;
  return {
    at,
    requests,
    errors,
    latencyBuckets,
    // prom-client updates all three CPU counters in the collect() of the user-time one only, so
    // reading process_cpu_seconds_total by itself returns a value that never moves.
    cpuSeconds: (await first('process_cpu_user_seconds_total')) + (await first('process_cpu_system_seconds_total')),
    rssBytes: await first('process_resident_memory_bytes'),
    predictions,
  };
}

export interface HistoryOptions {
  intervalSeconds: number;
  /** How far back the ring buffer reaches. */
  windowSeconds: number;
}

export const DEFAULT_HISTORY: HistoryOptions = { intervalSeconds: 5, windowSeconds: 900 };

/** `VIGIL_HISTORY_INTERVAL_SECONDS` and `VIGIL_HISTORY_WINDOW_SECONDS` override the defaults. */
export function historyOptionsFromEnv(env: NodeJS.ProcessEnv): HistoryOptions {
  const read = (name: string, fallback: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const n = Number(raw);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number of seconds, got "${raw}"`);
    return n;
  };
  return {
    intervalSeconds: read('VIGIL_HISTORY_INTERVAL_SECONDS', DEFAULT_HISTORY.intervalSeconds),
    windowSeconds: read('VIGIL_HISTORY_WINDOW_SECONDS', DEFAULT_HISTORY.windowSeconds),
  };
}

/** Fixed-size buffer: the oldest point goes when a new one arrives and it is full. */
export class RingBuffer<T> {
  private readonly items: T[] = [];
  private start = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new Error(`ring buffer capacity must be a positive integer, got ${capacity}`);
  }

  push(item: T): void {
    if (this.items.length < this.capacity) {
      this.items.push(item);
    } else {
      this.items[this.start] = item;
      this.start = (this.start + 1) % this.capacity;
    }
  }

  /** Oldest first. */
  toArray(): T[] {
    return [...this.items.slice(this.start), ...this.items.slice(0, this.start)];
  }

  get size(): number {
    return this.items.length;
  }
}

/**
 * Samples the registry on an unref'd timer (it never keeps the process alive). Event-loop lag
 * comes from its own perf_hooks histogram: prom-client resets its histogram on every scrape,
 * so sharing it would steal Prometheus' window.
 */
export class HistorySampler {
  readonly options: HistoryOptions;
  private readonly points: RingBuffer<HistoryPoint>;
  private previous: Snapshot | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly lag: ELDHistogram;
  private sampling: Promise<void> | undefined;

  constructor(
    private readonly registry: Registry,
    options: Partial<HistoryOptions> = {},
    private readonly clock: () => number = Date.now,
  ) {
    this.options = { ...DEFAULT_HISTORY, ...options };
    this.points = new RingBuffer(Math.max(1, Math.ceil(this.options.windowSeconds / this.options.intervalSeconds)));
    this.lag = monitorEventLoopDelay({ resolution: 10 });
  }

  start(): void {
    if (this.timer) return;
    this.lag.enable();
    void this.sample();
    this.timer = setInterval(() => void this.sample(), this.options.intervalSeconds * 1000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.lag.disable();
    await this.sampling;
  }

  /** Takes one reading; from the second one on, appends a point. Never overlaps itself. */
  sample(): Promise<void> {
    this.sampling ??= (async () => {
      try {
        const snapshot = await takeSnapshot(this.registry, this.clock());
        // The histogram is empty before the loop has turned once; 0 lag is then the truth.
        const lagSeconds = this.lag.count > 0 ? this.lag.percentile(99) / 1e9 : 0;
        this.lag.reset();
        if (this.previous) this.points.push(pointBetween(this.previous, snapshot, lagSeconds));
        this.previous = snapshot;
      } finally {
        this.sampling = undefined;
      }
    })();
    return this.sampling;
  }

  history(): HistoryResponse {
    return { interval_seconds: this.options.intervalSeconds, points: this.points.toArray() };
  }
}
