#!/usr/bin/env node
// What an open circuit's refusal costs the server thread, against a 404 for a model that does
// not exist (the cheap refusal the reliability suite's open-circuit scenario compares it with).
//
// One `vigil serve` (the embedded models plus a remote text classifier and a remote generator
// whose upstreams are a port nobody listens on, 3 failures to open a circuit, a cooldown longer
// than the run), driven by autocannon in interleaved rounds on three paths:
// /v1/models/no-such-model/predict (404), /v1/models/remote-classifier/predict (503
// circuit_open, refused at the door) and /v1/models/remote-generator/predict (503 circuit_open,
// refused once the body is read: the door cannot tell a stream from headers). Figures:
// server-thread CPU per answer (utime + stime of the main thread, /proc/PID/task/PID/stat).
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
const BODIES = { 'no-such-model': { text: 'a fine film' }, 'remote-classifier': { text: 'a fine film' }, 'remote-generator': { prompt: 'a fine day' } };
const REMOTE = ['remote-classifier', 'remote-generator'];

async function remoteModelFolders() {
  const root = mkdtempSync(path.join(tmpdir(), 'vigil-circuit-cost-'));
  // Port 9 (discard) on loopback: nothing listens, so every attempt fails at once.
  const remote = { timeoutMs: 500, retry: { maxRetries: 0 }, circuitBreaker: { failureThreshold: 3, cooldownMs: 3_600_000 } };
  const specs = [
    { name: 'remote-classifier', task: 'text-classification', labels: ['NEGATIVE', 'POSITIVE'], remote: { ...remote, baseUrl: 'http://127.0.0.1:9/models', model: 'bench/classifier' } },
    { name: 'remote-generator', task: 'text-generation', remote: { ...remote, baseUrl: 'http://127.0.0.1:9/v1', model: 'bench/generator' } },
  ];
  const dirs = specs.map((spec) => {
    const dir = path.join(root, spec.name);
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'vigil.model.json'), JSON.stringify({ version: '1', runtime: 'remote', ...spec }));
    return dir;
  });
  return { root, dirs };
}

const post = (port, model) => fetch(`http://127.0.0.1:${port}/v1/models/${model}/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(BODIES[model]) });

async function startVigil(root, folders) {
  const port = await freePort();
  const env = { ...process.env, HF_TOKEN: 'bench-token', HF_TOKEN_FILE: '', VIGIL_LOG_LEVEL: 'warn' };
  const child = spawn(process.execPath, [`${root}/dist/cli/main.js`, 'serve', ...folders.flatMap((f) => ['--model', f]), '--port', String(port), '--grpc-port', '0'], { stdio: 'ignore', env });
  await waitFor(`http://127.0.0.1:${port}/ready`, 200);
  for (const model of REMOTE) {
    for (let i = 0; i < 3; i++) await post(port, model);
    const probe = await post(port, model);
    const code = (await probe.json()).error?.code;
    if (code !== 'circuit_open') throw new Error(`the circuit of ${model} in ${root} did not open (got ${probe.status} ${code})`);
  }
  return { child, port };
}

function load(port, model, seconds) {
  return new Promise((resolve, reject) =>
    autocannon(
      { url: `http://127.0.0.1:${port}/v1/models/${model}/predict`, method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(BODIES[model]), connections: CONNECTIONS, duration: seconds },
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

const folders = await remoteModelFolders();
const servers = { current: await startVigil(ROOT, folders.dirs), ...(values.baseline ? { baseline: await startVigil(values.baseline, folders.dirs) } : {}) };
// Each measured run: [column, server, model, expected status]; interleaved in every round.
const runs = [
  ['404', servers.current, 'no-such-model', 404],
  ['classifier', servers.current, 'remote-classifier', 503],
  ['generator', servers.current, 'remote-generator', 503],
  ...(servers.baseline ? [['baseline classifier', servers.baseline, 'remote-classifier', 503], ['baseline generator', servers.baseline, 'remote-generator', 503]] : []),
];
try {
  for (const server of Object.values(servers)) await load(server.port, 'no-such-model', 2); // warm-up: JIT, caches
  const rounds = [];
  for (let round = 0; round < ROUNDS; round++) {
    const row = {};
    for (const [column, server, model, status] of runs) row[column] = await measure(server, model, status);
    rounds.push(row);
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const cell = (x, column) => x.toFixed(1).padStart(column.length + 2);
  console.log(`machine: ${cpus().length} x ${cpus()[0]?.model.trim()}, node ${process.version}, load average ${loadavg()[0].toFixed(2)}; ${ROUNDS} rounds of ${DURATION_S} s, ${CONNECTIONS} connections`);
  console.log(`server-thread CPU per answer, µs (circuits open: 503 circuit_open)\nround ${runs.map(([column]) => column.padStart(column.length + 2)).join('')}`);
  rounds.forEach((r, i) => console.log(`${String(i + 1).padStart(5)} ${runs.map(([column]) => cell(r[column].us, column)).join('')}`));
  const medians = Object.fromEntries(runs.map(([column]) => [column, median(rounds.map((r) => r[column].us))]));
  console.log(`median${runs.map(([column]) => cell(medians[column], column)).join('')}`);
  console.log(`against the 404: ${runs.slice(1).map(([column]) => `${column} ${(medians[column] / medians['404']).toFixed(2)}`).join(', ')}`);
  const unexpected = rounds.flatMap((r) => Object.values(r).map((x) => x.unexpected)).reduce((a, b) => a + b, 0);
  if (unexpected > 0) console.log(`note: ${unexpected} answers had another status, or were client errors`);
} finally {
  for (const server of Object.values(servers)) server.child.kill('SIGTERM');
  rmSync(folders.root, { recursive: true, force: true });
}
