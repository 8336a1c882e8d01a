/**
 * `vigil smoke` against real servers: it must pass on a healthy one, and fail (with the exit
 * code scripts rely on) on a server whose model answers wrongly, one that is not ready, and
 * one that is not there at all.
 */
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, REPO_ROOT, startVigil, type VigilProcess } from '../helpers/server.js';
import { hasShared, requireShared, sharedPath } from '../helpers/shared.js';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function smoke(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, 'smoke', ...args], { cwd: REPO_ROOT, timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

interface Report {
  healthy: boolean;
  reachable: boolean;
  checks: { name: string; status: string; kind?: string; model?: string; detail: string }[];
}

const parse = (run: Run) => JSON.parse(run.stdout) as Report;

/** A port nothing listens on: bind one, then close it. */
async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const work = mkdtempSync(path.join(tmpdir(), 'vigil-smoke-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A copy of the embedded sentiment model with its labels swapped: it loads fine and answers wrongly. */
function swappedSentiment(): string {
  const dir = path.join(work, 'swapped');
  cpSync(path.join(REPO_ROOT, 'models', 'sentiment', '1'), dir, { recursive: true });
  const specFile = path.join(dir, 'vigil.model.json');
  const spec = JSON.parse(readFileSync(specFile, 'utf8')) as { labels: string[] };
  expect(spec.labels).toEqual(['NEGATIVE', 'POSITIVE']);
  spec.labels = ['POSITIVE', 'NEGATIVE'];
  writeFileSync(specFile, JSON.stringify(spec));
  return dir;
}

describe('vigil smoke on a healthy server (embedded models)', () => {
  let server: VigilProcess;
  beforeAll(async () => {
    server = await startVigil([]);
    await server.waitUntilReady();
  });
  afterAll(() => server?.stop());

  it('passes, checks sentiment against expected answers, exits 0', async () => {
    const run = await smoke([server.url, '--json']);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    const report = parse(run);
    expect(report.healthy).toBe(true);
    expect(report.checks.map((c) => c.name).slice(0, 3)).toEqual(['alive', 'ready', 'metrics']);
    expect(report.checks[2]).toMatchObject({ status: 'pass' });
    const sentiment = report.checks.filter((c) => c.model === 'sentiment');
    expect(sentiment).toHaveLength(2);
    expect(sentiment.every((c) => c.kind === 'expected' && c.status === 'pass')).toBe(true);
    expect(sentiment.map((c) => c.detail).join(' ')).toMatch(/answered POSITIVE.*answered NEGATIVE/);
    // Digits, when embedded: drawn digits checked against their labels.
    const digits = report.checks.filter((c) => c.model === 'digits');
    if (digits.length > 0) expect(digits.map((c) => [c.kind, c.status, c.detail.split(' ')[1]])).toEqual([['expected', 'pass', '1'], ['expected', 'pass', '7']]);
  });

  it('prints a readable report without --json', async () => {
    const run = await smoke([server.url]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^ok {3}alive/m);
    expect(run.stdout).toMatch(/^HEALTHY: /m);
  });
});

describe('vigil smoke on a server that answers wrongly or is not ready', () => {
  let server: VigilProcess;
  beforeAll(async () => {
    const broken = path.join(work, 'broken');
    cpSync(path.join(REPO_ROOT, 'models', 'sentiment', '1'), broken, { recursive: true });
    writeFileSync(path.join(broken, 'model.onnx'), 'not an onnx graph');
    server = await startVigil(['--no-embedded', '--model', `sentiment=${swappedSentiment()}`, '--model', `broken=${broken}`]);
    await server.waitForLog(/"msg":"model failed to load"/);
    await server.waitForLog(/"msg":"model ready"/);
  });
  afterAll(() => server?.stop());

  it('fails with exit code 1, naming the wrong answer and the unready model', async () => {
    const run = await smoke([server.url, '--json']);
    expect(run.code, run.stdout + run.stderr).toBe(1);
    const report = parse(run);
    expect(report.reachable).toBe(true);
    expect(report.healthy).toBe(false);
    const ready = report.checks.find((c) => c.name === 'ready')!;
    expect(ready.status).toBe('fail');
    expect(ready.detail).toMatch(/503.*broken/);
    const happy = report.checks.find((c) => c.model === 'sentiment' && c.name.includes('happy'))!;
    expect(happy.status).toBe('fail');
    expect(happy.detail).toMatch(/answered NEGATIVE .*expected POSITIVE/);
  });

  it('holds a model to an expectations file instead of the built-in cases', async () => {
    const file = path.join(work, 'expect.json');
    // What this broken copy really does: the file's cases replace the built-in ones.
    writeFileSync(file, JSON.stringify({ models: { sentiment: [{ input: { text: 'I am so happy today!' }, label: 'NEGATIVE', minScore: 0.5 }] } }));
    const run = await smoke([server.url, '--json', '--expect', file]);
    const sentiment = parse(run).checks.filter((c) => c.model === 'sentiment');
    expect(sentiment).toHaveLength(1);
    expect(sentiment[0]).toMatchObject({ status: 'pass', kind: 'expected' });

    writeFileSync(file, JSON.stringify({ models: { absent: [{ input: { text: 'x' }, label: 'A' }] } }));
    const missing = parse(await smoke([server.url, '--json', '--expect', file]));
    expect(missing.checks.find((c) => c.model === 'absent')).toMatchObject({ status: 'fail', detail: expect.stringMatching(/not served/) });
  });

  it('rejects a malformed expectations file as bad usage (exit 2)', async () => {
    const file = path.join(work, 'bad-expect.json');
    writeFileSync(file, JSON.stringify({ models: { sentiment: [{ text: 'no input key' }] } }));
    const run = await smoke([server.url, '--expect', file]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/needs "input"/);
  });
});

describe('vigil smoke on a dead server', () => {
  it('exits 2 (unreachable) and says why', async () => {
    const port = await deadPort();
    const run = await smoke([`http://127.0.0.1:${port}`, '--json', '--timeout', '2s']);
    expect(run.code).toBe(2);
    const report = parse(run);
    expect(report.reachable).toBe(false);
    expect(report.checks[0]).toMatchObject({ name: 'alive', status: 'fail', detail: expect.stringMatching(/ECONNREFUSED/) });
  });

  it('exits 2 on bad usage', async () => {
    expect((await smoke(['not-a-url'])).code).toBe(2);
    expect((await smoke(['http://127.0.0.1:1', '--timeout', 'soon'])).code).toBe(2);
  });
});

describe.skipIf(!hasShared)('vigil smoke on a random-weight model', () => {
  let server: VigilProcess | undefined;
  const present = hasShared && requireShared('models/distilbert-arch-random', 'smoke shape-only check');
  beforeAll(async () => {
    if (!present) return;
    server = await startVigil(['--no-embedded', '--model', sharedPath('models', 'distilbert-arch-random')]);
    await server.waitUntilReady();
  });
  afterAll(() => server?.stop());

  it.skipIf(!present)('checks it for shape only, and says so', async () => {
    const run = await smoke([server!.url, '--json']);
    expect(run.code, run.stdout).toBe(0);
    const models = parse(run).checks.filter((c) => c.model);
    expect(models.length).toBeGreaterThan(0);
    expect(models.every((c) => c.kind === 'shape-only' && c.status === 'pass')).toBe(true);
    expect(run.stdout).toMatch(/no held-out evaluation/);
  });
});

if (!hasShared) console.warn('[skipped] smoke shape-only test: ../shared is not present');
