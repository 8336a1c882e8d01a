#!/usr/bin/env node
// Same-run A/B of the cold start of two Vigil checkouts (each built: `npm run build`), e.g. a
// commit and its parent in two git worktrees. Starts alternate A B, B A, ... so background load
// drifts over both alike. Each start: `vigil serve` with the embedded models, the launchers'
// environment, an empty compile cache of its own (the suite's "first start"); timed from spawn to
// the first 200 from /ready, polled every 5 ms. Also read at /ready: the process's CPU time (all
// threads, and the server thread alone) and its RSS. Prints one JSON line per start, then medians
// and the B/A ratios.
//
//   node bench/cold-start-ab.mjs <checkout A> <checkout B> [rounds=9] [-- extra serve arguments]
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { cpuSeconds, freePort, waitFor } from './proc.mjs';

const argv = process.argv.slice(2);
const dash = argv.indexOf('--');
const [a, b, roundsArg = '9'] = dash < 0 ? argv : argv.slice(0, dash);
const extra = dash < 0 ? [] : argv.slice(dash + 1);
if (!a || !b) {
  console.error('usage: node bench/cold-start-ab.mjs <checkout A> <checkout B> [rounds] [-- serve arguments]');
  process.exit(2);
}
const rounds = Number(roundsArg);
// What every launcher gives `vigil serve` (src/config/serve-environment.ts), read from B, the build under test.
const { SERVE_ENVIRONMENT: launcherEnv } = await import(pathToFileURL(path.resolve(b, 'dist/config/serve-environment.js')).href);
const rssMiB = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;

async function coldStart(root) {
  const port = await freePort();
  const cache = mkdtempSync(path.join(tmpdir(), 'vigil-cold-'));
  const started = performance.now();
  const child = spawn(process.execPath, [path.join(root, 'dist/cli/main.js'), 'serve', '--host', '127.0.0.1', '--port', String(port), '--grpc-port', '0', ...extra], {
    cwd: root,
    env: { ...process.env, ...launcherEnv, NODE_COMPILE_CACHE: cache },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  try {
    await waitFor(`http://127.0.0.1:${port}/ready`, 200, 5);
    const ms = performance.now() - started;
    return { ms, cpuMs: cpuSeconds(child.pid) * 1000, serverThreadCpuMs: cpuSeconds(child.pid, { mainThread: true }) * 1000, rssMiB: rssMiB(child.pid) };
  } finally {
    child.kill('SIGTERM');
    await exited;
    rmSync(cache, { recursive: true, force: true });
  }
}

const runs = { A: [], B: [] };
for (let round = 0; round < rounds; round++) {
  const order = round % 2 === 0 ? ['A', 'B'] : ['B', 'A'];
  for (const which of order) {
    const result = await coldStart(path.resolve(which === 'A' ? a : b));
    runs[which].push(result);
    console.log(JSON.stringify({ round, build: which, ...Object.fromEntries(Object.entries(result).map(([k, v]) => [k, Math.round(v * 10) / 10])) }));
  }
}
const median = (values) => {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.floor(sorted.length / 2)];
};
for (const key of ['ms', 'cpuMs', 'serverThreadCpuMs', 'rssMiB']) {
  const ma = median(runs.A.map((r) => r[key]));
  const mb = median(runs.B.map((r) => r[key]));
  console.log(`${key.padEnd(18)} A ${ma.toFixed(1).padStart(8)}  B ${mb.toFixed(1).padStart(8)}  B/A ${(mb / ma).toFixed(2)}`);
}
