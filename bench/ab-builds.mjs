#!/usr/bin/env node
// Same-run A/B of the request path of two Vigil checkouts (each built: `npm run build`), e.g. a
// commit and its parent in two git worktrees. Both servers run at once; load runs alternate
// A B, B A, ... so background load drifts over both alike. Per run: a fixed number of requests
// (autocannon, 4 connections, closed loop), throughput, p50/p99, and the server process's CPU
// time per request (utime + stime from /proc/<pid>/stat, Linux), which a busy machine distorts
// less than throughput. Prints one JSON line per run, then medians and the B/A ratios.
//
//   node bench/ab-builds.mjs <checkout A> <checkout B> [rounds=5] [requests per run=1000]
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const [a, b, roundsArg = '5', amountArg = '1000'] = process.argv.slice(2);
if (!a || !b) {
  console.error('usage: node bench/ab-builds.mjs <checkout A> <checkout B> [rounds] [requests per run]');
  process.exit(2);
}
const autocannon = createRequire(path.join(path.resolve(b), 'package.json'))('autocannon');
const rounds = Number(roundsArg);
const amount = Number(amountArg);
const models = path.join(path.resolve(b), 'models');
const cpuMs = (pid) => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10; // clock ticks of 10 ms
};

async function start(root, port) {
  // gRPC off: both servers would take its default port (8081), and the second would not start.
  const child = spawn(
    process.execPath,
    [path.join(root, 'dist/cli/main.js'), 'serve', '--no-embedded', '--host', '127.0.0.1', '--port', String(port), '--grpc-port', '0', '--model', path.join(models, 'sentiment'), '--model', path.join(models, 'air-quality')],
    { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 600; i++) {
    try {
      if ((await fetch(`${url}/ready`)).status === 200) return { child, url };
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  child.kill('SIGTERM');
  throw new Error(`${root} did not become ready`);
}

const air = JSON.parse(readFileSync(path.join(models, 'air-quality/1/vigil.model.json'), 'utf8')).preprocessing.example.features;
const text = 'I am so happy today, this is wonderful!';
const cases = [
  { name: 'json sentiment', path: '/v1/models/sentiment/predict', body: JSON.stringify({ text }) },
  { name: 'oip sentiment', path: '/v2/models/sentiment/infer', body: JSON.stringify({ inputs: [{ name: 'text', shape: [1], datatype: 'BYTES', data: [text] }] }) },
  { name: 'json air-quality', path: '/v1/models/air-quality/predict', body: JSON.stringify({ features: air }) },
];
const load = (url, c) =>
  new Promise((resolve, reject) =>
    autocannon({ url: url + c.path, method: 'POST', headers: { 'content-type': 'application/json' }, body: c.body, connections: 4, amount }, (error, result) =>
      error ? reject(error) : resolve(result),
    ),
  );

const servers = { A: await start(path.resolve(a), 18101), B: await start(path.resolve(b), 18102) };
const out = { A: {}, B: {} };
try {
  for (const c of cases) for (const s of Object.values(servers)) await load(s.url, c); // warm-up
  for (let round = 0; round < rounds; round++) {
    for (const c of cases) {
      for (const build of round % 2 ? ['B', 'A'] : ['A', 'B']) {
        const { url, child } = servers[build];
        const before = cpuMs(child.pid);
        const result = await load(url, c);
        const cpuUs = ((cpuMs(child.pid) - before) * 1000) / result.requests.total;
        const row = { round, build, case: c.name, rps: Math.round(result.requests.average), p50: result.latency.p50, p99: result.latency.p99, cpuUsPerRequest: Math.round(cpuUs), non2xx: result.non2xx };
        console.log(JSON.stringify(row));
        (out[build][c.name] ??= []).push(row);
      }
    }
  }
} finally {
  for (const s of Object.values(servers)) s.child.kill('SIGTERM');
}
const median = (xs) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
for (const c of cases) {
  const [ra, rb] = [out.A[c.name], out.B[c.name]];
  const m = (rows, key) => median(rows.map((r) => r[key]));
  console.log(
    `${c.name}: CPU/request A ${m(ra, 'cpuUsPerRequest')} us, B ${m(rb, 'cpuUsPerRequest')} us (B/A ${(m(rb, 'cpuUsPerRequest') / m(ra, 'cpuUsPerRequest')).toFixed(2)}); ` +
      `req/s A ${m(ra, 'rps')}, B ${m(rb, 'rps')} (B/A ${(m(rb, 'rps') / m(ra, 'rps')).toFixed(2)}); p99 A ${m(ra, 'p99')} ms, B ${m(rb, 'p99')} ms`,
  );
}
