import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeUpstream, writeModelFolder, type FakeUpstream } from '../helpers/fake-upstream.js';
import { REPO_ROOT, startVigil, type VigilProcess } from '../helpers/server.js';
import { closedLoop, count, errorCount, report, round, seconds, SENTIMENT_BODIES, shedLines, statusCounts, type LoadOutcome, target as checkTarget } from './harness.js';

/**
 * Remote upstream faults while local traffic runs: the upstream turns slow, hung, dead and
 * rate-limiting under a remote classifier while a local client predicts with the embedded
 * sentiment model; then a client hammers the remote model whose circuit is open. Promise: local
 * predictions never fail, and an open circuit's 503s cost the server no more than another cheap
 * refusal (a 404 for a model that does not exist), measured as local throughput in the same run.
 */

let fake: FakeUpstream;
let server: VigilProcess;
let root: string;

beforeAll(async () => {
  fake = await startFakeUpstream();
  root = mkdtempSync(path.join(tmpdir(), 'vigil-upstream-'));
  const example = JSON.parse(readFileSync(path.join(REPO_ROOT, 'examples/dual-mode/sentiment-remote/vigil.model.json'), 'utf8')) as Record<string, any>;
  const folder = await writeModelFolder(root, {
    ...example,
    name: 'remote-sentiment',
    fallback: undefined,
    remote: { ...example.remote, baseUrl: fake.classificationBaseUrl, timeoutMs: 500, retry: { maxRetries: 0 }, circuitBreaker: { failureThreshold: 3, cooldownMs: 600_000 } },
  });
  server = await startVigil(['--model', folder], { HF_TOKEN: 'test-token', HF_TOKEN_FILE: '' });
  await server.waitUntilReady();
});
afterAll(async () => {
  await server?.stop();
  await fake?.close();
  if (root) rmSync(root, { recursive: true, force: true });
});

const local = () => ({ url: server.url, path: '/predict', bodies: SENTIMENT_BODIES });
const remote = (model: string) => ({ url: server.url, path: `/v1/models/${model}/predict`, bodies: [JSON.stringify({ text: 'a fine film' })], timeoutMs: 10_000 });

/** Local load for `s` seconds while `other` runs beside it (if given). */
async function localWith(s: number, other?: () => Promise<LoadOutcome>): Promise<{ local: LoadOutcome; other?: LoadOutcome }> {
  const [localOutcome, otherOutcome] = await Promise.all([closedLoop(local(), 16, s), other?.()]);
  return { local: localOutcome, other: otherOutcome };
}

describe('remote upstream faults', () => {
  it('slow, hung, dead and rate-limiting upstream: local predictions all succeed; remote answers are 503/504 with a code, never 500', async () => {
    const figures: Record<string, unknown> = {};
    const faults = [
      ['slow', { kind: 'latency', ms: 300 }],
      ['hung', { kind: 'latency', ms: 60_000 }],
      ['dead', { kind: 'reset' }],
      ['rate-limited', { kind: 'status', status: 429, retryAfter: '2' }],
    ] as const;
    for (const [name, fault] of faults) {
      fake.clear();
      fake.inject(fault as never, { times: Infinity });
      const { local: l, other } = await localWith(seconds(3), () => closedLoop(remote('remote-sentiment'), 4, seconds(3)));
      figures[name] = { local_rps: round(count(l, 200) / l.seconds), local_statuses: statusCounts(l), local_errors: errorCount(l), remote_statuses: statusCounts(other!), remote_errors: Object.fromEntries(other!.errors) };
      expect(errorCount(l)).toBe(0);
      expect(Object.keys(statusCounts(l))).toEqual(['200']);
      expect(errorCount(other!)).toBe(0);
      for (const status of Object.keys(statusCounts(other!))) expect(['200', '502', '503', '504']).toContain(status);
    }
    report('upstream-faults', figures);
  });

  it('a client hammering an open circuit costs local traffic no more than one hammering a 404', async () => {
    fake.clear();
    fake.inject({ kind: 'reset' }, { times: Infinity });
    // Open the circuit.
    for (let i = 0; i < 5; i++) await fetch(`${server.url}/v1/models/remote-sentiment/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"text":"x"}' });
    const probe = await fetch(`${server.url}/v1/models/remote-sentiment/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"text":"x"}' });
    const probeBody = (await probe.json()) as { error: { code: string } };
    expect(probe.status).toBe(503);
    expect(probeBody.error.code).toBe('circuit_open');
    expect(probe.headers.get('retry-after')).not.toBeNull();

    const alone = await localWith(seconds(4));
    const with404 = await localWith(seconds(4), () => closedLoop(remote('no-such-model'), 32, seconds(4)));
    const linesBefore = server.logs.length;
    const withCircuit = await localWith(seconds(4), () => closedLoop(remote('remote-sentiment'), 32, seconds(4)));
    await new Promise((r) => setTimeout(r, 1500));
    const lines = server.logs.slice(linesBefore);
    // The 404 case again after the circuit's, so that the machine slowing or speeding up between
    // two runs (seen here: 0.73 in one CI run against 0.87-0.94 in five) is not read as the
    // circuit's cost: the circuit's run is judged against the mean of the two around it.
    const with404After = await localWith(seconds(4), () => closedLoop(remote('no-such-model'), 32, seconds(4)));
    const rps = (o: LoadOutcome) => count(o, 200) / o.seconds;
    const beside404 = (rps(with404.local) + rps(with404After.local)) / 2;
    const hammerRps = (o?: LoadOutcome) => (o ? o.sent / o.seconds : 0);
    report('upstream-open-circuit', {
      local_alone_rps: round(rps(alone.local)),
      local_with_404_hammer_rps: round(rps(with404.local)),
      local_with_404_hammer_after_rps: round(rps(with404After.local)),
      hammer_404_rps: round(hammerRps(with404.other)),
      local_with_circuit_hammer_rps: round(rps(withCircuit.local)),
      hammer_circuit_rps: round(hammerRps(withCircuit.other)),
      circuit_vs_404: round(rps(withCircuit.local) / beside404, 3),
      hammer_statuses: statusCounts(withCircuit.other!),
      stack_traces: lines.filter((l) => l.includes('"stack"')).length,
      shed_log_lines: shedLines(lines).length,
    });
    expect(Object.keys(statusCounts(withCircuit.other!))).toEqual(['503']);
    expect(withCircuit.other!.refusalsWithoutRetryAfter).toBe(0);
    expect(lines.filter((l) => l.includes('"stack"'))).toEqual([]);
    expect(errorCount(withCircuit.local)).toBe(0);
    const kept = rps(withCircuit.local) / beside404;
    checkTarget('upstream-open-circuit', 'local throughput beside an open-circuit hammer / beside a 404 hammer (mean of before and after)', kept, '>= 0.8', kept >= 0.8);
  });
});
