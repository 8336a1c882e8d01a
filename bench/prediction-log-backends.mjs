#!/usr/bin/env node
// Server-thread CPU per logged prediction: the SQLite log (a file, WAL) against the PostgreSQL
// log, in one process, interleaved round by round so that load from elsewhere on the machine
// hits both alike. Only the log is measured (append + the background writes), not inference.
//
//   npm run build && node bench/prediction-log-backends.mjs postgres://user@127.0.0.1:5432/db [rows] [rounds]
//   (password: VIGIL_PREDICTION_LOG_PASSWORD or in the URL)
//
// Rows are appended as a server does: a few per event-loop turn (32 at a time, like 32
// connections' answers), and the round ends when every row is written.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openPredictionStore } from '../dist/observability/open-prediction-store.js';

const [url, rowsArg = '50000', roundsArg = '3'] = process.argv.slice(2);
if (!url?.startsWith('postgres')) {
  console.error('usage: node bench/prediction-log-backends.mjs postgres://user@host:port/db [rows] [rounds]');
  process.exit(2);
}
const rows = Number(rowsArg);
const rounds = Number(roundsArg);
const dir = mkdtempSync(path.join(tmpdir(), 'vigil-logbench-'));
const row = (i) => ({ requestId: `bench-${Date.now()}-${i}`, index: 0, model: 'sentiment', version: '1', createdAt: Date.now(), label: i % 2 ? 'POSITIVE' : 'NEGATIVE', score: 0.93 });
const turn = () => new Promise((resolve) => setImmediate(resolve));

async function measure(target) {
  const store = openPredictionStore({ path: target, pruneIntervalMs: 0, bufferRows: rows + 1 });
  await store.start();
  const startCpu = process.cpuUsage();
  const started = performance.now();
  for (let i = 0; i < rows; i += 32) {
    store.append(Array.from({ length: Math.min(32, rows - i) }, (_, k) => row(i + k)));
    await turn();
  }
  while (store.written < rows) await new Promise((resolve) => setTimeout(resolve, 5));
  const cpu = process.cpuUsage(startCpu);
  const wall = performance.now() - started;
  await store.close();
  return { cpuUsPerRow: (cpu.user + cpu.system) / rows, wallMs: wall, dropped: store.dropped };
}

const results = { sqlite: [], postgres: [] };
try {
  for (let round = 1; round <= rounds; round++) {
    for (const kind of ['sqlite', 'postgres']) {
      const target = kind === 'sqlite' ? path.join(dir, `round-${round}.sqlite`) : url;
      const r = await measure(target);
      results[kind].push(r);
      console.log(`round ${round} ${kind.padEnd(8)} ${r.cpuUsPerRow.toFixed(1)} µs CPU per row, ${(rows / (r.wallMs / 1000)).toFixed(0)} rows/s, dropped ${r.dropped}`);
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const s = median(results.sqlite.map((r) => r.cpuUsPerRow));
const p = median(results.postgres.map((r) => r.cpuUsPerRow));
console.log(`median: sqlite ${s.toFixed(1)} µs, postgres ${p.toFixed(1)} µs CPU per row on the server thread (postgres / sqlite = ${(p / s).toFixed(2)})`);
