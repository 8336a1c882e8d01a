import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, REPO_ROOT, startVigil, type VigilProcess } from '../helpers/server.js';

/**
 * `vigil bench --json` against real servers, for a second: the report's structure and that the
 * load really reached the server. Speed is never asserted here (see bench/RESULTS.md).
 */

function runBench(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, 'bench', ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

function expectRun(run: any, connections: number): void {
  expect(run.connections).toBe(connections);
  expect(run.requests).toBeGreaterThan(0);
  expect(run.errors).toBe(0);
  expect(run.non2xx).toBe(0);
  expect(run.statusCodes['200']).toBeGreaterThan(0);
  expect(run.requestsPerSecond).toBeGreaterThan(0);
  expect(run.inputsPerSecond).toBeGreaterThanOrEqual(run.requestsPerSecond);
  for (const key of ['p50', 'p90', 'p99', 'mean', 'max']) expect(typeof run.latencyMs[key]).toBe('number');
  expect(run.latencyMs.p50).toBeLessThanOrEqual(run.latencyMs.p99);
}

let server: VigilProcess;

beforeAll(async () => {
  server = await startVigil([]);
  await server.waitUntilReady();
});

afterAll(async () => {
  await server?.stop();
});

describe('vigil bench --json', () => {
  it('against a running server (--url, --pid): one run per concurrency, with the server CPU and RSS', async () => {
    const { code, stdout, stderr } = await runBench([
      '--url', server.url, '--pid', String(server.process.pid), '--model', 'sentiment',
      '--concurrency', '1,4', '--duration', '1', '--warmup', '0', '--batch', '2', '--json',
    ]);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const report = JSON.parse(stdout);
    expect(report.tool).toBe('vigil bench');
    expect(report.target).toMatchObject({ url: server.url, path: '/v1/models/sentiment/predict', model: 'sentiment', selfStarted: false });
    expect(report.target.batching).toMatchObject({ maxBatchSize: expect.any(Number), maxQueue: expect.any(Number) });
    expect(report.machine.cpus).toBeGreaterThan(0);
    expect(typeof report.machine.cpuModel).toBe('string');
    expect(report.machine.versions['onnxruntime-node']).toMatch(/^\d+\./);
    expect(report.texts.count).toBeGreaterThan(0);
    expect(report.batch).toBe(2);
    expect(report.runs).toHaveLength(2);
    expectRun(report.runs[0], 1);
    expectRun(report.runs[1], 4);
    // Two texts per request: inputs/s is twice requests/s.
    expect(report.runs[1].inputsPerSecond).toBeCloseTo(2 * report.runs[1].requestsPerSecond, 5);
    expect(report.runs[1].server.peakRssMiB).toBeGreaterThan(10);
    expect(report.runs[1].server.cpuPercent).toBeGreaterThan(0);

    // The load reached the model: the server counted the predictions.
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    const predictions = metrics
      .split('\n')
      .filter((l) => l.startsWith('vigil_predictions_total{') && l.includes('model="sentiment"'))
      .reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0);
    expect(predictions).toBeGreaterThanOrEqual(2 * (report.runs[0].statusCodes['200'] + report.runs[1].statusCodes['200']));
  });

  it('self-starts a server when there is no --url, and reports its cold start', async () => {
    const { code, stdout } = await runBench(['--concurrency', '2', '--duration', '1', '--warmup', '0', '--json']);
    expect(code).toBe(0);
    const report = JSON.parse(stdout);
    expect(report.target.selfStarted).toBe(true);
    expect(report.target.coldStartMs).toBeGreaterThan(0);
    expect(report.target.pid).toBeGreaterThan(0);
    expect(report.runs).toHaveLength(1);
    expectRun(report.runs[0], 2);
    expect(report.runs[0].server.peakRssMiB).toBeGreaterThan(10);
  });

  it('refuses bad flags with exit code 2 and an unknown model with exit code 1', async () => {
    expect((await runBench(['--concurrency', 'many'])).code).toBe(2);
    const unknown = await runBench(['--url', server.url, '--model', 'no-such-model', '--duration', '1', '--warmup', '0']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/404/);
  });
});
