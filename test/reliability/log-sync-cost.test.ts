import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { startVigil } from '../helpers/server.js';
import { closedLoop, count, errorCount, percentile, report, round, seconds, SENTIMENT_BODIES } from './harness.js';

/**
 * The price of --prediction-log-sync, measured in this run: the same closed loop against a
 * server with a file prediction log written on the 200 ms timer, then one committing each
 * request's rows before its answer. Reported as a ratio (absolute figures move with the
 * machine); asserted only that both serve without errors.
 */

async function run(sync: boolean): Promise<{ rps: number; p99: number; errors: number }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'vigil-sync-'));
  const server = await startVigil(['--prediction-log', path.join(dir, 'p.db'), ...(sync ? ['--prediction-log-sync'] : [])]);
  try {
    await server.waitUntilReady();
    const target = { url: server.url, path: '/predict', bodies: SENTIMENT_BODIES };
    await closedLoop(target, 16, seconds(2));
    const outcome = await closedLoop(target, 32, seconds(6));
    return { rps: count(outcome, 200) / outcome.seconds, p99: percentile(outcome.latencies.get(200) ?? [], 0.99), errors: errorCount(outcome) + (outcome.sent - count(outcome, 200) - errorCount(outcome)) };
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('prediction log: the cost of synchronous commits', () => {
  it('throughput and p99 with and without --prediction-log-sync, same run', async () => {
    const timer = await run(false);
    const sync = await run(true);
    const again = await run(false); // the machine drifts: bracket the sync run
    const base = (timer.rps + again.rps) / 2;
    report('prediction-log-sync-cost', {
      timer_rps: round(timer.rps),
      timer_again_rps: round(again.rps),
      sync_rps: round(sync.rps),
      sync_throughput_ratio: round(sync.rps / base, 3),
      timer_p99_ms: round(timer.p99),
      sync_p99_ms: round(sync.p99),
    });
    expect(timer.errors + sync.errors + again.errors).toBe(0);
  });
});
