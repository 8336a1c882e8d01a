import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, REPO_ROOT, startVigil } from '../helpers/server.js';

/**
 * What a default `vigil serve` loads on its server thread, recorded by a preload while the
 * real server starts, becomes ready and stops. Each package listed as absent cost start-up time
 * and resident memory and is only needed by a feature the default server does not use (or,
 * for onnxruntime, only on the inference workers); this keeps them from creeping back in
 * through a static import. How long start-up takes is measured by the benchmarks, not here.
 */
const scratch = mkdtempSync(path.join(tmpdir(), 'vigil-imports-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** The packages the server thread loaded and the worker threads the process started, from start to stop. */
async function recordedStart(args: string[]): Promise<{ packages: string[]; workers: number }> {
  const record = path.join(scratch, `packages-${Date.now()}.json`);
  const workers = path.join(scratch, `workers-${Date.now()}.txt`);
  const preload = path.join(REPO_ROOT, 'test/helpers/record-packages.mjs');
  const server = await startVigil(args, { NODE_OPTIONS: `--import ${preload}`, VIGIL_RECORD_PACKAGES: record, VIGIL_RECORD_WORKERS: workers });
  await server.waitUntilReady();
  expect(await server.stop()).toBe(0);
  return { packages: JSON.parse(readFileSync(record, 'utf8')) as string[], workers: Number(readFileSync(workers, 'utf8')) };
}

describe('the server thread of a default `vigil serve`', () => {
  let loaded: string[];
  let onWorkers: string[];
  let workersStarted: { byDefault: number; onWorkers: number };
  beforeAll(async () => {
    const byDefault = await recordedStart([]);
    const workersOnly = await recordedStart(['--engine-placement', 'worker']);
    loaded = byDefault.packages;
    onWorkers = workersOnly.packages;
    workersStarted = { byDefault: byDefault.workers, onWorkers: workersOnly.workers };
  });

  it('starts no inference worker for the embedded models: each is measured on the server thread and stays there', () => {
    // docs/performance.md, "Engine placement and threads": a small graph file is timed on the
    // server thread first. Each embedded onnx version starts a worker when placed on workers; by
    // default none does (any other worker, such as the health port's, is the same in both).
    const onnxVersions = readdirSync(path.join(REPO_ROOT, 'models')).flatMap((model) =>
      readdirSync(path.join(REPO_ROOT, 'models', model)).filter((version) => existsSync(path.join(REPO_ROOT, 'models', model, version, 'model.onnx'))),
    );
    expect(onnxVersions.length).toBeGreaterThanOrEqual(4);
    expect(workersStarted.onWorkers - workersStarted.byDefault, JSON.stringify(workersStarted)).toBe(onnxVersions.length);
  });

  it('loads the tokenizer library and the HTTP stack, but neither transformers.js, sharp, undici, the tracing SDK nor SQLite', () => {
    // The recorder works: what the server needs is there.
    expect(loaded).toEqual(expect.arrayContaining(['fastify', 'prom-client', '@huggingface/tokenizers']));
    for (const unwanted of [
      '@huggingface/transformers', // its import loads onnxruntime-node and sharp too
      'sharp',
      'undici', // only the remote runtime uses it, on its first upstream call
      '@opentelemetry/sdk-trace-node', // only when OTEL_EXPORTER_OTLP_ENDPOINT is set
      '@opentelemetry/exporter-trace-otlp-http',
      'better-sqlite3', // only a prediction log in a SQLite file needs it
    ]) {
      expect(loaded, `${unwanted} was loaded`).not.toContain(unwanted);
    }
  });

  it('loads onnxruntime only for engines placed on it: the embedded models measure within the bound, so by default yes; with workers only, never', () => {
    // docs/performance.md, "Engine placement and threads": a call shorter than a worker round
    // trip runs on the server thread. The workers' onnxruntime is theirs, not the server thread's.
    expect(loaded).toContain('onnxruntime-node');
    expect(onWorkers).toEqual(expect.arrayContaining(['fastify', '@huggingface/tokenizers']));
    expect(onWorkers).not.toContain('onnxruntime-node');
    expect(onWorkers).not.toContain('onnxruntime-common');
  });

  it('runs the bundled serve command: typebox is inside it, not loaded as its ~680 separate modules', () => {
    expect(loaded).not.toContain('typebox');
  });
});

describe('a port already in use', () => {
  // Listening comes before any inference worker starts: a worker started earlier would keep
  // the process alive after listen() failed (this test would then time out).
  it('exits with 1 and says why', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const { port } = blocker.address() as { port: number };
    const child = spawn(process.execPath, [CLI, 'serve', '--host', '127.0.0.1', '--port', String(port)], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
      expect(code, output).toBe(1);
      expect(output).toMatch(/EADDRINUSE/);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      blocker.close();
    }
  });
});

describe("Node's compile cache", () => {
  // `vigil` turns it on before a command's modules load, so a restart (the watchdog's, a
  // deploy's) reads V8's compiled code from disk instead of compiling the serve bundle again.
  // Node's own debug output says what it wrote and what it accepted. TMPDIR moves Node's default
  // folder (<tmpdir>/node-compile-cache) into the scratch folder; NODE_COMPILE_CACHE is left
  // unset, since Node would then turn the cache on by itself.
  const start = (env: NodeJS.ProcessEnv) =>
    new Promise<string>((resolve, reject) => {
      const child = spawn(process.execPath, [CLI, 'serve', '--help'], { cwd: REPO_ROOT, env: { ...process.env, NODE_DEBUG_NATIVE: 'COMPILE_CACHE', ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
      child.once('error', reject);
      child.once('exit', (code) => (code === 0 ? resolve(stderr) : reject(new Error(`exit ${code}: ${stderr}`))));
    });
  const serveBundleAccepted = /code cache for ESM \S*dist\/cli\/serve\.js was accepted/;

  it('is written by the first start and read by the next', async () => {
    const tmp = mkdtempSync(path.join(scratch, 'tmp-'));
    const first = await start({ TMPDIR: tmp });
    expect(first).not.toMatch(serveBundleAccepted);
    expect(readdirSync(path.join(tmp, 'node-compile-cache')).length).toBeGreaterThan(0);
    expect(await start({ TMPDIR: tmp })).toMatch(serveBundleAccepted);
  });

  it('stays off with NODE_DISABLE_COMPILE_CACHE=1', async () => {
    const tmp = mkdtempSync(path.join(scratch, 'tmp-'));
    await start({ TMPDIR: tmp, NODE_DISABLE_COMPILE_CACHE: '1' });
    expect(existsSync(path.join(tmp, 'node-compile-cache'))).toBe(false);
  });
});
