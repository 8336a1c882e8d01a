import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/prometheus.js';
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
let grpcPort: number;
let root: string;

beforeAll(async () => {
  // A copy of sentiment whose queue holds one input: concurrent calls get real refusals.
  root = mkdtempSync(path.join(tmpdir(), 'vigil-bench-'));
  const tiny = path.join(root, 'sentiment-tiny-queue');
  cpSync(path.join(REPO_ROOT, 'models', 'sentiment', '1'), tiny, { recursive: true });
  const spec = JSON.parse(readFileSync(path.join(tiny, 'vigil.model.json'), 'utf8'));
  writeFileSync(path.join(tiny, 'vigil.model.json'), JSON.stringify({ ...spec, name: 'sentiment-tiny-queue', batching: { maxQueue: 1, maxBatchSize: 1, maxDelayMs: 0 } }));
  grpcPort = await freePort();
  server = await startVigil(['--grpc-port', String(grpcPort), '--model', tiny]);
  await server.waitUntilReady();
});

afterAll(async () => {
  await server?.stop();
  if (root) rmSync(root, { recursive: true, force: true });
});

/** The server's grpc_server_handled_total for ModelInfer, by code. */
async function handledByCode(): Promise<Record<string, number>> {
  const metrics = await (await fetch(`${server.url}/metrics`)).text();
  const counts: Record<string, number> = {};
  for (const line of metrics.split('\n')) {
    if (!line.startsWith('grpc_server_handled_total{') || !line.includes('grpc_method="ModelInfer"')) continue;
    const code = /grpc_code="([A-Z_]+)"/.exec(line)![1]!;
    counts[code] = (counts[code] ?? 0) + Number(line.split(' ').at(-1));
  }
  return counts;
}

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

/** vigil_predictions_total of one model, all labels and versions. */
async function predictions(model: string): Promise<number> {
  const metrics = await (await fetch(`${server.url}/metrics`)).text();
  return metrics
    .split('\n')
    .filter((l) => l.startsWith('vigil_predictions_total{') && l.includes(`model="${model}"`))
    .reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0);
}

describe('vigil bench --protocol oip-json|oip-binary --json', () => {
  for (const protocol of ['oip-json', 'oip-binary']) {
    for (const model of ['sentiment', 'digits']) {
      it(`${protocol}, ${model}: POST /v2/models/${model}/infer, every request answered 200 and predicted`, async () => {
        const before = await predictions(model);
        const { code, stdout, stderr } = await runBench([
          '--protocol', protocol, '--url', server.url, '--model', model, '--concurrency', '2', '--duration', '1', '--warmup', '0', '--batch', '2', '--json',
        ]);
        expect(stderr).toBe('');
        expect(code).toBe(0);
        const report = JSON.parse(stdout);
        expect(report.target).toMatchObject({ protocol, path: `/v2/models/${model}/infer`, model });
        expect(report.runs).toHaveLength(1);
        expectRun(report.runs[0], 2);
        // Two inputs per request, each predicted: the probe, the counted answers, and at most
        // one request per connection still in flight when autocannon stopped counting.
        const predicted = (await predictions(model)) - before;
        const answered = report.runs[0].statusCodes['200'] + 1;
        expect(predicted).toBeGreaterThanOrEqual(2 * answered);
        expect(predicted).toBeLessThanOrEqual(2 * (answered + 2));
      });
    }
  }

  it('refuses an unknown model with exit code 1 (the metadata request names it)', async () => {
    const unknown = await runBench(['--protocol', 'oip-binary', '--url', server.url, '--model', 'no-such-model', '--duration', '1', '--warmup', '0']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/GET \/v2\/models\/no-such-model answered 404/);
  });
});

describe('vigil bench --protocol grpc --json', () => {
  it('drives ModelInfer at a running server: one run per concurrency, every call answered and counted by the server', async () => {
    const before = await handledByCode();
    const { code, stdout, stderr } = await runBench([
      '--protocol', 'grpc', '--url', server.url, '--grpc-address', `127.0.0.1:${grpcPort}`, '--pid', String(server.process.pid),
      '--model', 'sentiment', '--concurrency', '1,4', '--duration', '1', '--warmup', '0', '--batch', '2', '--json',
    ]);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const report = JSON.parse(stdout);
    expect(report.target).toMatchObject({
      protocol: 'grpc', url: server.url, grpcAddress: `127.0.0.1:${grpcPort}`, channels: 1,
      path: 'inference.GRPCInferenceService/ModelInfer', model: 'sentiment', selfStarted: false,
    });
    expect(report.target.batching).toMatchObject({ maxBatchSize: expect.any(Number) });
    expect(report.runs).toHaveLength(2);
    for (const [i, connections] of [1, 4].entries()) {
      const run = report.runs[i];
      expect(run.connections).toBe(connections);
      expect(run.errors).toBe(0);
      expect(run.non2xx).toBe(0);
      expect(run.statusCodes.OK).toBeGreaterThan(0);
      expect(run.requests).toBe(run.statusCodes.OK);
      expect(run.requestsPerSecond).toBeGreaterThan(0);
      expect(run.inputsPerSecond).toBeCloseTo(2 * run.requestsPerSecond, 5);
      for (const key of ['p50', 'p90', 'p99', 'mean', 'max']) expect(Number.isFinite(run.latencyMs[key]), key).toBe(true);
      expect(run.latencyMs.p50).toBeLessThanOrEqual(run.latencyMs.p99);
      expect(run.latencyMs.p99).toBeLessThanOrEqual(run.latencyMs.max);
    }
    expect(report.runs[1].server.cpuPercent).toBeGreaterThan(0);
    // The server answered every counted call over gRPC (and the probe call before the runs).
    const after = await handledByCode();
    const ok = report.runs[0].statusCodes.OK + report.runs[1].statusCodes.OK;
    expect((after.OK ?? 0) - (before.OK ?? 0)).toBe(ok + 1);
  });

  it('counts the server\'s refusals as answers other than OK, not as errors', async () => {
    const { code, stdout } = await runBench([
      '--protocol', 'grpc', '--url', server.url, '--grpc-address', `127.0.0.1:${grpcPort}`,
      '--model', 'sentiment-tiny-queue', '--concurrency', '16', '--duration', '1', '--warmup', '0', '--json',
    ]);
    expect(code).toBe(0);
    const [run] = JSON.parse(stdout).runs;
    expect(run.errors).toBe(0);
    expect(run.statusCodes.OK).toBeGreaterThan(0);
    expect(run.statusCodes.UNAVAILABLE).toBeGreaterThan(0);
    expect(run.non2xx).toBe(run.statusCodes.UNAVAILABLE);
    expect(run.requests).toBe(run.statusCodes.OK + run.statusCodes.UNAVAILABLE);
    expect(run.requestsPerSecond * run.durationSeconds).toBeCloseTo(run.statusCodes.OK, 5);
  });

  it('self-starts a server with a gRPC port and drives an FP32 model (digits) with --channels 2', async () => {
    const { code, stdout, stderr } = await runBench(['--protocol', 'grpc', '--model', 'digits', '--channels', '2', '--concurrency', '4', '--duration', '1', '--warmup', '0', '--json']);
    expect(code, stderr).toBe(0);
    const report = JSON.parse(stdout);
    expect(report.target.selfStarted).toBe(true);
    expect(report.target.grpcAddress).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(report.target.channels).toBe(2);
    expect(report.target.serveArgs).toContain('--grpc-port');
    const [run] = report.runs;
    expect(run.errors).toBe(0);
    expect(run.non2xx).toBe(0);
    expect(run.statusCodes.OK).toBeGreaterThan(0);
    expect(run.server.peakRssMiB).toBeGreaterThan(10);
  });

  it('refuses bad flags with exit code 2, and an unknown model or a silent address with exit code 1', async () => {
    for (const args of [
      ['--protocol', 'ftp'],
      ['--protocol', 'grpc', '--rate', '10'],
      ['--protocol', 'grpc', '--path', '/v1/models/sentiment/predict'],
      ['--protocol', 'oip-json', '--path', '/v1/models/sentiment/predict'],
      ['--protocol', 'oip-binary', '--channels', '2'],
      ['--protocol', 'grpc', '--grpc-address', 'no-port'],
      ['--protocol', 'grpc', '--channels', '0'],
      ['--grpc-address', `127.0.0.1:${grpcPort}`],
      ['--protocol', 'grpc', '--serve-arg=--grpc-port', '--serve-arg=9'],
    ]) {
      const result = await runBench(args);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr, args.join(' ')).toMatch(/^vigil bench: /);
    }
    const unknown = await runBench(['--protocol', 'grpc', '--grpc-address', `127.0.0.1:${grpcPort}`, '--model', 'no-such-model', '--duration', '1', '--warmup', '0']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/NOT_FOUND/);
    const silent = await runBench(['--protocol', 'grpc', '--grpc-address', `127.0.0.1:${await freePort()}`, '--duration', '1', '--warmup', '0']);
    expect(silent.code).toBe(1);
    expect(silent.stderr).toMatch(/UNAVAILABLE \(no answer from the server\)/);
  });
});
