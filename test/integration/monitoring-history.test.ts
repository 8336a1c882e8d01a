import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, getJson, postJson, startVigil, type VigilProcess } from '../helpers/server.js';
import { requireShared, sharedPath } from '../helpers/shared.js';

/** The embedded sentiment model when it has been trained, else the shared random DistilBERT. */
function modelArgs(): string[] | undefined {
  if (existsSync(path.join(REPO_ROOT, 'models', 'sentiment', '1', 'vigil.model.json'))) return [];
  if (requireShared('models/distilbert-arch-random', 'monitor history route')) return ['--no-embedded', '--model', `sentiment=${sharedPath('models/distilbert-arch-random')}`];
  return undefined;
}

const args = modelArgs();

describe.skipIf(!args)('GET /v1/monitor/history on the real server', () => {
  let vigil: VigilProcess;

  beforeAll(async () => {
    vigil = await startVigil(args!, { VIGIL_HISTORY_INTERVAL_SECONDS: '0.5', VIGIL_HISTORY_WINDOW_SECONDS: '30' });
    await vigil.waitUntilReady();
  });

  afterAll(async () => {
    await vigil?.stop();
  });

  it('reports traffic, latency and predictions per model and label from real requests', async () => {
    const labels = new Map<string, number>();
    for (let i = 0; i < 20; i++) {
      const r = await postJson(`${vigil.url}/predict`, { text: i % 2 ? 'a wonderful, moving film' : 'dull and lifeless, a waste of time' });
      expect(r.status).toBe(200);
      labels.set(r.body.label, (labels.get(r.body.label) ?? 0) + 1);
    }

    // Bounded poll: the sampler runs every 0.5 s; wait until every prediction has been counted.
    let history: any;
    const deadline = Date.now() + 15_000;
    for (;;) {
      history = (await getJson(`${vigil.url}/v1/monitor/history`)).body;
      const counted = history.points.reduce((n: number, p: any) => n + Object.values<number>(p.predictions.sentiment ?? {}).reduce((a, b) => a + b, 0), 0);
      if (counted >= 20 || Date.now() > deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }

    expect(history.interval_seconds).toBe(0.5);
    expect(history.points.length).toBeGreaterThan(0);
    for (const p of history.points) {
      expect(Object.keys(p).sort()).toEqual(
        expect.arrayContaining(['t', 'requests_per_second', 'error_ratio', 'cpu_ratio', 'rss_bytes', 'event_loop_lag_seconds', 'predictions']),
      );
      expect(p.t).toBeGreaterThan(Date.now() - 60_000);
      expect(p.rss_bytes).toBeGreaterThan(0);
      expect(p.error_ratio).toBe(0);
    }
    // Points come oldest first, one interval apart.
    const ts = history.points.map((p: any) => p.t);
    expect([...ts].sort((a, b) => a - b)).toEqual(ts);

    // The counts per label add up to exactly what the server answered.
    const summed = new Map<string, number>();
    for (const p of history.points) for (const [label, n] of Object.entries<number>(p.predictions.sentiment ?? {})) summed.set(label, (summed.get(label) ?? 0) + n);
    expect(Object.fromEntries(summed)).toEqual(Object.fromEntries(labels));

    const busy = history.points.filter((p: any) => p.requests_per_second > 0);
    expect(busy.length).toBeGreaterThan(0);
    const withLatency = busy.find((p: any) => p.latency_p50_seconds !== undefined);
    expect(withLatency.latency_p50_seconds).toBeGreaterThan(0);
    expect(withLatency.latency_p99_seconds).toBeGreaterThanOrEqual(withLatency.latency_p95_seconds);
    expect(withLatency.latency_p95_seconds).toBeGreaterThanOrEqual(withLatency.latency_p50_seconds);
  });

  it('does not count its own polling, Prometheus scrapes or health probes as traffic', async () => {
    // Only self-monitoring requests from here on: poll the history and /metrics for a few intervals.
    // Keep polling until three whole intervals have passed with nothing but such requests
    // (bounded: 15 s), then none of them may show traffic.
    const start = Date.now();
    let recent: any[] = [];
    while (recent.length < 3 && Date.now() - start < 15_000) {
      await fetch(`${vigil.url}/metrics`).then((r) => r.text());
      await fetch(`${vigil.url}/ready`).then((r) => r.text());
      const { body } = await getJson(`${vigil.url}/v1/monitor/history`);
      // Points whose whole interval (0.5 s) began after the loop started.
      recent = body.points.filter((p: any) => p.t - 500 > start + 100);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(recent.length).toBeGreaterThanOrEqual(3);
    for (const p of recent) expect(p.requests_per_second).toBe(0);
  });
});
