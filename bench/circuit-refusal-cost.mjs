#!/usr/bin/env node
// What an open circuit's refusal costs the server thread, against a 404 for a model that does
// not exist (the cheap refusal the reliability suite's open-circuit scenario compares it with).
//
// One `vigil serve` (the embedded models plus a remote text classifier whose upstream is a port
// nobody listens on, 3 failures to open its circuit, a cooldown longer than the run), driven by
// autocannon in interleaved rounds on two paths: /v1/models/no-such-model/predict (404) and
// /v1/models/remote-classifier/predict (503 circuit_open). Figures: server-thread CPU per answer
// (utime + stime of the main thread, /proc/PID/task/PID/stat).
//
// With --baseline DIR (another built checkout), its circuit refusals are measured in the same rounds.
//
//   npm run build && node bench/circuit-refusal-cost.mjs [--duration 4] [--rounds 3] [--connections 32] [--baseline DIR]
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { cpuSeconds, freePort, waitFor } from './proc.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const { values } = parseArgs({ options: { duration: { type: 'string', default: '4' }, rounds: { type: 'string', default: '3' }, connections: { type: 'string', default: '32' }, baseline: { type: 'string' } } });
const DURATION_S = Number(values.duration);
const ROUNDS = Number(values.rounds);
const CONNECTIONS = Number(values.connections);
const BODY = JSON.stringify({ text: 'a fine film' });

async function remoteModelFolder() {
  const root = mkdtempSync(path.join(tmpdir(), 'vigil-circuit-cost-'));
  const dir = path.join(root, 'remote-classifier');
  mkdirSync(dir);
  // Port 9 (discard) on loopback: nothing listens, so every attempt fails at once.
  const spec = {
    name: 'remote-classifier',
    version: '1',
    task: 'text-classification',
    runtime: 'remote',
    labels: ['NEGATIVE', 'POSITIVE'],
    remote: { baseUrl: 'http://127.0.0.1:9/models', model: 'bench/classifier', timeoutMs: 500, retry: { maxRetries: 0 }, circuitBreaker: { failureThreshold: 3, cooldownMs: 3_600_000 } },
  };
  writeFileSync(path.join(dir, 'vigil.model.json'), JSON.stringify(spec));
  return { root, dir };
}

const post = (port, model) => fetch(`http://127.0.0.1:${port}/v1/models/${model}/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: BODY });

async function startVigil(root, folder) {
  const port = await freePort();
  const env = { ...process.env, HF_TOKEN: 'bench-token', HF_TOKEN_FILE: '', VIGIL_LOG_LEVEL: 'warn' };
  const child = spawn(process.execPath, [`${root}/dist/cli/main.js`, 'serve', '--model', folder, '--port', String(port), '--grpc-port', '0'], { stdio: 'ignore', env });
  await waitFor(`http://127.0.0.1:${port}/ready`, 200);
  for (let i = 0; i < 3; i++) await post(port, 'remote-classifier');
  const probe = await post(port, 'remote-classifier');
  const code = (await probe.json()).error?.code;
  if (code !== 'circuit_open') throw new Error(`the circuit of ${root} did not open (got ${probe.status} ${code})`);
  return { child, port };
}

function load(port, model, seconds) {
  return new Promise((resolve, reject) =>
    autocannon(
      { url: `http://127.0.0.1:${port}/v1/models/${model}/predict`, method: 'POST', headers: { 'content-type': 'application/json' }, body: BODY, connections: CONNECTIONS, duration: seconds },
      (error, result) => (error ? reject(error) : resolve(result)),
    ),
  );
}

/** Server-thread µs per answer of one measured run, and how many answers had the expected status. */
async function measure(server, model, status) {
  const before = cpuSeconds(server.child.pid, { mainThread: true });
  const result = await load(server.port, model, DURATION_S);
  const cpu = cpuSeconds(server.child.pid, { mainThread: true }) - before;
  const answers = result.requests.total;
  const expected = status === 404 ? result['4xx'] : result['5xx'];
  return { us: (1e6 * cpu) / answers, rps: result.requests.average, unexpected: answers - expected + result.errors + result.timeouts };
}

const folder = await remoteModelFolder();
const servers = { current: await startVigil(ROOT, folder.dir), ...(values.baseline ? { baseline: await startVigil(values.baseline, folder.dir) } : {}) };
try {
  for (const server of Object.values(servers)) await load(server.port, 'no-such-model', 2); // warm-up: JIT, caches
  const rounds = [];
  for (let round = 0; round < ROUNDS; round++) {
    const notFound = await measure(servers.current, 'no-such-model', 404);
    const circuit = await measure(servers.current, 'remote-classifier', 503);
    const baseline = servers.baseline && (await measure(servers.baseline, 'remote-classifier', 503));
    rounds.push({ notFound, circuit, baseline });
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const fmt = (x) => (x === undefined ? '-' : x.toFixed(1));
  console.log(`machine: ${cpus().length} x ${cpus()[0]?.model.trim()}, node ${process.version}, load average ${loadavg()[0].toFixed(2)}; ${ROUNDS} rounds of ${DURATION_S} s, ${CONNECTIONS} connections`);
  console.log('round   404 µs  circuit µs  baseline circuit µs   (server-thread CPU per answer)');
  rounds.forEach((r, i) => console.log(`${String(i + 1).padStart(5)} ${fmt(r.notFound.us).padStart(8)} ${fmt(r.circuit.us).padStart(11)} ${fmt(r.baseline?.us).padStart(20)}`));
  const notFoundUs = median(rounds.map((r) => r.notFound.us));
  const circuitUs = median(rounds.map((r) => r.circuit.us));
  console.log(`median ${fmt(notFoundUs).padStart(7)} ${fmt(circuitUs).padStart(11)} ${values.baseline ? fmt(median(rounds.map((r) => r.baseline.us))).padStart(20) : ''}`);
  console.log(`circuit / 404 = ${(circuitUs / notFoundUs).toFixed(2)}; answers/s ${rounds.map((r) => `${Math.round(r.notFound.rps)} / ${Math.round(r.circuit.rps)}`).join(', ')} (404 / circuit)`);
  const unexpected = rounds.flatMap((r) => [r.notFound.unexpected, r.circuit.unexpected, r.baseline?.unexpected ?? 0]).reduce((a, b) => a + b, 0);
  if (unexpected > 0) console.log(`note: ${unexpected} answers had another status, or were client errors`);
} finally {
  for (const server of Object.values(servers)) server.child.kill('SIGTERM');
  rmSync(folder.root, { recursive: true, force: true });
}
