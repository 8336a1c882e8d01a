import { describe, expect, it } from 'vitest';
import {
  HistorySampler,
  RingBuffer,
  bucketIncrease,
  counterIncrease,
  historyOptionsFromEnv,
  pointBetween,
  quantileFromBuckets,
  takeSnapshot,
  type Snapshot,
} from '../../src/observability/history.js';
import { Metrics } from '../../src/observability/metrics.js';

const buckets = (entries: [number, number][]) => new Map(entries);

describe('quantileFromBuckets (PromQL histogram_quantile semantics)', () => {
  it('interpolates linearly inside the bucket that holds the rank', () => {
    // 10 observations <= 0.1, 10 more in (0.1, 0.2]
    const b = buckets([[0.1, 10], [0.2, 20], [Infinity, 20]]);
    expect(quantileFromBuckets(0.5, b)).toBeCloseTo(0.1, 12); // rank 10 = top of the first bucket
    expect(quantileFromBuckets(0.75, b)).toBeCloseTo(0.15, 12); // rank 15: half-way through (0.1, 0.2]
    expect(quantileFromBuckets(0.25, b)).toBeCloseTo(0.05, 12); // first bucket starts at 0
  });

  it('answers the highest finite bound when the rank falls in +Inf', () => {
    const b = buckets([[0.1, 1], [1, 2], [Infinity, 10]]);
    expect(quantileFromBuckets(0.99, b)).toBe(1);
  });

  it('skips empty buckets and is undefined for no observations', () => {
    expect(quantileFromBuckets(0.5, buckets([[0.1, 0], [Infinity, 0]]))).toBeUndefined();
    const b = buckets([[0.001, 0], [0.01, 0], [0.1, 4], [Infinity, 4]]);
    expect(quantileFromBuckets(0.5, b)).toBeCloseTo(0.01 + 0.09 * 0.5, 12);
  });

  it('agrees with a brute-force rank search over many random histograms', () => {
    const bounds = [0.001, 0.01, 0.1, 1, 10];
    for (let trial = 0; trial < 200; trial++) {
      const counts = bounds.map(() => Math.floor(Math.random() * 5));
      let cumulative = 0;
      const b = new Map<number, number>();
      bounds.forEach((le, i) => b.set(le, (cumulative += counts[i]!)));
      b.set(Infinity, cumulative);
      if (cumulative === 0) continue;
      const q = Math.random();
      const value = quantileFromBuckets(q, b)!;
      // The answer must lie in the bucket whose cumulative count first reaches q * total.
      const rank = q * cumulative;
      const index = bounds.findIndex((le) => b.get(le)! >= rank);
      const lower = index === 0 ? 0 : bounds[index - 1]!;
      expect(value).toBeGreaterThanOrEqual(lower - 1e-12);
      expect(value).toBeLessThanOrEqual(bounds[index]! + 1e-12);
    }
  });
});

describe('deltas between readings', () => {
  it('treats a counter drop as a restart from zero, as rate() does', () => {
    expect(counterIncrease(10, 15)).toBe(5);
    expect(counterIncrease(10, 3)).toBe(3);
  });

  it('takes per-bucket increases, so quantiles cover only the interval', () => {
    const before = buckets([[0.1, 100], [1, 100], [Infinity, 100]]);
    const after = buckets([[0.1, 100], [1, 110], [Infinity, 110]]);
    const delta = bucketIncrease(before, after);
    expect([...delta.values()]).toEqual([0, 10, 10]);
    // Lifetime p50 would be <= 0.1; the interval's p50 is in (0.1, 1].
    expect(quantileFromBuckets(0.5, delta)).toBeCloseTo(0.55, 12);
  });
});

function snapshot(at: number, over: Partial<Snapshot> = {}): Snapshot {
  return { at, requests: 0, errors: 0, latencyBuckets: new Map(), cpuSeconds: 0, rssBytes: 0, predictions: new Map(), ...over };
}

describe('pointBetween', () => {
  it('turns two snapshots into rates, ratios and interval counts', () => {
    const before = snapshot(1_000, {
      requests: 100,
      errors: 1,
      cpuSeconds: 2,
      latencyBuckets: buckets([[0.01, 50], [0.1, 100], [Infinity, 100]]),
      predictions: new Map([['sentiment', new Map([['POSITIVE', 7]])]]),
    });
    const after = snapshot(6_000, {
      requests: 150,
      errors: 6,
      cpuSeconds: 4.5,
      rssBytes: 123_456,
      latencyBuckets: buckets([[0.01, 50], [0.1, 150], [Infinity, 150]]),
      predictions: new Map([['sentiment', new Map([['POSITIVE', 10], ['NEGATIVE', 2]])]]),
    });
    const point = pointBetween(before, after, 0.012);
    expect(point.t).toBe(6_000);
    expect(point.requests_per_second).toBeCloseTo(10, 12); // 50 requests / 5 s
    expect(point.error_ratio).toBeCloseTo(0.1, 12); // 5 errors / 50 requests
    expect(point.cpu_ratio).toBeCloseTo(0.5, 12); // 2.5 CPU s / 5 s
    expect(point.rss_bytes).toBe(123_456);
    expect(point.event_loop_lag_seconds).toBe(0.012);
    expect(point.latency_p50_seconds).toBeCloseTo(0.01 + 0.09 * 0.5, 12); // all 50 in (0.01, 0.1]
    expect(point.latency_p99_seconds).toBeCloseTo(0.01 + 0.09 * 0.99, 12);
    expect(point.predictions).toEqual({ sentiment: { POSITIVE: 3, NEGATIVE: 2 } });
  });

  it('omits latency quantiles and reports no errors for an idle interval', () => {
    const point = pointBetween(snapshot(0), snapshot(5_000), 0);
    expect(point.requests_per_second).toBe(0);
    expect(point.error_ratio).toBe(0);
    expect(point).not.toHaveProperty('latency_p50_seconds');
    expect(point.predictions).toEqual({});
  });
});

describe('takeSnapshot on a real prom-client registry', () => {
  it('sums across routes, counts 5xx as errors and leaves out self-monitoring routes', async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    const ok = { method: 'POST', route: '/predict', status: '200' };
    const shed = { method: 'POST', route: '/predict', status: '503' };
    metrics.httpRequests.inc(ok, 3);
    metrics.httpDuration.observe(ok, 0.003);
    metrics.httpDuration.observe(ok, 0.004);
    metrics.httpDuration.observe(ok, 0.2);
    metrics.httpDuration.observe(shed, 0.0001);
    metrics.httpDuration.observe({ method: 'GET', route: '/metrics', status: '200' }, 9);
    metrics.httpDuration.observe({ method: 'GET', route: '/v1/monitor/history', status: '500' }, 9);
    metrics.predictions.inc({ model: 'sentiment', version: '1', label: 'POSITIVE' }, 2);
    metrics.predictions.inc({ model: 'sentiment', version: '2', label: 'POSITIVE' }, 1);

    const s = await takeSnapshot(metrics.registry, 42);
    expect(s.at).toBe(42);
    expect(s.requests).toBe(4);
    expect(s.errors).toBe(1);
    expect(s.latencyBuckets.get(Infinity)).toBe(4);
    expect(s.latencyBuckets.get(0.005)).toBe(3);
    expect(s.predictions.get('sentiment')?.get('POSITIVE')).toBe(3);
    expect(s.cpuSeconds).toBe(0); // no default metrics registered
  });

  it('reads the CPU the process spent between two snapshots from the default metrics', async () => {
    const metrics = new Metrics();
    const before = await takeSnapshot(metrics.registry);
    const spinUntil = process.cpuUsage().user + 50_000; // 50 ms of CPU, not of wall time
    while (process.cpuUsage().user < spinUntil) Math.sqrt(Math.random());
    const after = await takeSnapshot(metrics.registry);
    expect(after.cpuSeconds - before.cpuSeconds).toBeGreaterThanOrEqual(0.05);
  });
});

describe('HistorySampler', () => {
  it('emits one point per interval after the first reading and keeps only the window', async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    let now = 0;
    const sampler = new HistorySampler(metrics.registry, { intervalSeconds: 5, windowSeconds: 15 }, () => now);
    await sampler.sample(); // baseline
    expect(sampler.history()).toEqual({ interval_seconds: 5, points: [] });

    for (let i = 1; i <= 5; i++) {
      metrics.httpDuration.observe({ method: 'POST', route: '/predict', status: '200' }, 0.002);
      metrics.httpDuration.observe({ method: 'POST', route: '/predict', status: i === 5 ? '500' : '200' }, 0.002);
      now = i * 5_000;
      await sampler.sample();
    }
    const { points } = sampler.history();
    expect(points.map((p) => p.t)).toEqual([15_000, 20_000, 25_000]); // 15 s window / 5 s = 3 points
    expect(points.every((p) => Math.abs(p.requests_per_second - 0.4) < 1e-12)).toBe(true); // 2 per 5 s
    expect(points.map((p) => p.error_ratio)).toEqual([0, 0, 0.5]);
    expect(points[0]!.latency_p50_seconds).toBeCloseTo(0.001 + 0.0015 * 0.5, 12); // both in (0.001, 0.0025]
  });

  it('samples on its own timer once started and stops cleanly', async () => {
    const metrics = new Metrics();
    const sampler = new HistorySampler(metrics.registry, { intervalSeconds: 0.05, windowSeconds: 60 });
    sampler.start();
    // Bounded poll for two points (a loaded machine may delay the timer; no stopwatch here).
    for (let waited = 0; sampler.history().points.length < 2 && waited < 10_000; waited += 25) {
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    await sampler.stop();
    const { points } = sampler.history();
    expect(points.length).toBeGreaterThanOrEqual(2);
    const last = points.at(-1)!;
    expect(last.rss_bytes).toBeGreaterThan(10_000_000); // a real Node process, read via prom-client
    expect(last.cpu_ratio).toBeGreaterThanOrEqual(0);
    const count = points.length;
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(sampler.history().points.length).toBe(count);
  });
});

describe('configuration', () => {
  it('reads interval and window from the environment and rejects nonsense', () => {
    expect(historyOptionsFromEnv({})).toEqual({ intervalSeconds: 5, windowSeconds: 900 });
    expect(historyOptionsFromEnv({ VIGIL_HISTORY_INTERVAL_SECONDS: '0.5', VIGIL_HISTORY_WINDOW_SECONDS: '60' })).toEqual({ intervalSeconds: 0.5, windowSeconds: 60 });
    expect(() => historyOptionsFromEnv({ VIGIL_HISTORY_INTERVAL_SECONDS: '0' })).toThrow(/positive/);
  });

  it('ring buffer keeps insertion order across wrap-around', () => {
    const ring = new RingBuffer<number>(3);
    for (let i = 1; i <= 7; i++) ring.push(i);
    expect(ring.toArray()).toEqual([5, 6, 7]);
  });
});
