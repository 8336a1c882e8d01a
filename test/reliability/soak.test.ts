import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SERVE_ENVIRONMENT } from '../../src/config/serve-environment.js';
import { startVigil, type VigilProcess } from '../helpers/server.js';
import { closedLoop, count, errorCount, measureCapacity, openLoop, report, round, rssMiB, seconds, SENTIMENT_BODIES, statusCounts, type Target, target as checkTarget } from './harness.js';

/**
 * Soak at 60% of the capacity measured in this run. Asserted in every mode: no connection
 * error, and every answer is a 200 or a 503 refusal with Retry-After (no 500, no timeout).
 * Targets (reported; failing only with VIGIL_RELIABILITY_STRICT=1): no refusal at all, and RSS
 * after warm-up grows by at most 10%. Refusals are a target, not an assertion, because whether
 * 60% of a closed-loop capacity fits under the in-flight bound depends on the machine: on a
 * 2-core machine the load generator shares the cores with the server, and a stall of either
 * sends a burst past the bound (seen in CI: 344 refusals of 123,697 requests, 0.28%).
 * RELIABILITY_SOAK_SECONDS sets its length (60 in CI; 600 documented).
 *
 * The server runs as the deploy kits run it for 24x7 (the image, compose and the systemd units):
 * with the launchers' environment (glibc's mmap threshold, V8's young generation held at 8 MiB)
 * and the prediction log in a SQLite file. The in-memory log of a bare `vigil serve` is a store
 * that grows to its row bound (100,000 rows, ~20 MB, full after 18 s at 5,600 req/s): RSS
 * growth while it fills is that bound being reached, not what a soak looks for.
 */

const SOAK_S = Number(process.env.RELIABILITY_SOAK_SECONDS ?? 60);
let server: VigilProcess;
let target: Target;
let logDir: string;

beforeAll(async () => {
  logDir = mkdtempSync(path.join(tmpdir(), 'vigil-soak-'));
  server = await startVigil(['--prediction-log', path.join(logDir, 'predictions.sqlite')], { ...SERVE_ENVIRONMENT });
  await server.waitUntilReady();
  target = { url: server.url, path: '/predict', bodies: SENTIMENT_BODIES };
});
afterAll(async () => {
  await server?.stop();
  if (logDir) rmSync(logDir, { recursive: true, force: true });
});

describe('soak', () => {
  it(`${SOAK_S} s at 60% of capacity: no error, every refusal a 503 with Retry-After; refusals and RSS growth as targets`, async () => {
    await closedLoop(target, 16, seconds(2));
    const capacity = (await measureCapacity(target, seconds(3))).rps;
    const pid = server.process.pid!;
    const samples: { at: number; rss: number }[] = [];
    const started = performance.now();
    const sampler = setInterval(() => samples.push({ at: (performance.now() - started) / 1000, rss: rssMiB(pid) }), 1000);
    const outcome = await openLoop(target, capacity * 0.6, SOAK_S);
    clearInterval(sampler);
    // Warm-up: the first fifth (JIT, allocator arenas, the prediction log's first pages).
    const warm = samples.filter((s) => s.at >= SOAK_S / 5);
    const afterWarmUp = warm[0]?.rss ?? NaN;
    const peak = Math.max(...warm.map((s) => s.rss));
    const end = warm.at(-1)?.rss ?? NaN;
    const refused = count(outcome, 503);
    const otherStatuses = outcome.sent - errorCount(outcome) - count(outcome, 200) - refused;
    report('soak', {
      seconds: SOAK_S,
      capacity_rps: round(capacity),
      offered_rps: round(capacity * 0.6),
      served_rps: round(count(outcome, 200) / outcome.seconds),
      statuses: statusCounts(outcome),
      client_errors: Object.fromEntries(outcome.errors),
      generator_lag_ms: outcome.generatorLagMs,
      rss_after_warm_up_mib: round(afterWarmUp),
      rss_peak_mib: round(peak),
      rss_end_mib: round(end),
      rss_growth: round((end - afterWarmUp) / afterWarmUp, 3),
      rss_series_mib: samples.filter((_, i) => i % Math.max(1, Math.floor(samples.length / 20)) === 0).map((s) => round(s.rss, 1)),
    });
    expect(errorCount(outcome)).toBe(0);
    expect(otherStatuses).toBe(0);
    expect(outcome.refusalsWithoutRetryAfter).toBe(0);
    checkTarget('soak', 'refused share (503 at 60% of capacity)', refused / outcome.sent, '= 0', refused === 0);
    checkTarget('soak', 'RSS growth after warm-up', (end - afterWarmUp) / afterWarmUp, '<= 0.10', end <= afterWarmUp * 1.1);
  });
});
