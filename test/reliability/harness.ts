import { appendFileSync, readFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import path from 'node:path';
import { RawHttpPool, rawRequestsTo } from '../../src/ops/bench/raw-http.js';
import { REPO_ROOT } from '../helpers/server.js';

/**
 * The reliability suite's load and measurement tools. Load goes to 127.0.0.1 only, over real
 * keep-alive HTTP/1.1 connections that honour `Connection: close`, from the lean client of
 * src/ops/bench/raw-http.ts: prepared request bytes, answers read by scanning their bytes. The
 * generator shares the machine's cores with the server, and node:http's client spent a core of
 * its own on an open loop at 3x a small model's capacity, so the figures described the
 * generator. The probe from a thread of its own (probeInThread) uses node:http, as a prober in
 * another process would. Every target is
 * judged against the capacity measured in the same run, on the same machine, because the
 * absolute numbers move with whatever else the cores are doing.
 *
 * Durations: RELIABILITY_SCALE multiplies every phase (1 in CI; docs/reliability.md gives the
 * full-length command); RELIABILITY_SOAK_SECONDS sets the soak (60 in CI, 600 documented).
 */

export const SCALE = Number(process.env.RELIABILITY_SCALE ?? 1);
export const seconds = (base: number) => Math.max(1, base * SCALE);

/** Where each scenario appends its figures (one JSON line each), besides printing them. */
export const RESULTS_FILE = process.env.RELIABILITY_RESULTS ?? path.join(REPO_ROOT, 'test', 'reliability', 'last-run.jsonl');

/**
 * Targets are figures against a goal (goodput, p99s, CPU per request, RSS growth): on a shared or
 * loaded machine they measure the machine as much as Vigil, so by default a target is reported
 * (MET or MISSED, in the log and the results file) and a missed one does not fail the run.
 * `VIGIL_RELIABILITY_STRICT=1` makes every target an assertion, for a quiet dedicated machine.
 * Promises that do not depend on speed (statuses, Retry-After, no stack traces, nothing lost
 * outside the window) are plain assertions in every mode.
 */
export const STRICT = process.env.VIGIL_RELIABILITY_STRICT === '1';

export function target(scenario: string, what: string, measured: number, goal: string, met: boolean): void {
  const line = JSON.stringify({ scenario, target: what, measured: round(measured), goal, met, strict: STRICT, at: new Date().toISOString() });
  console.log(`[reliability] ${met ? 'TARGET MET' : 'TARGET MISSED'} ${line}`);
  appendFileSync(RESULTS_FILE, `${line}\n`);
  if (STRICT && !met) throw new Error(`${scenario}: target missed: ${what} = ${round(measured)}, goal ${goal}`);
}

export function report(scenario: string, figures: Record<string, unknown>): void {
  const line = JSON.stringify({ scenario, at: new Date().toISOString(), scale: SCALE, ...figures });
  console.log(`[reliability] ${line}`);
  appendFileSync(RESULTS_FILE, `${line}\n`);
}

export function percentile(values: number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

export const round = (value: number, digits = 2) => Number(value.toFixed(digits));

/** Every answer of a load run, by kind. */
export interface LoadOutcome {
  /** Seconds the run lasted (first send to last answer). */
  seconds: number;
  sent: number;
  /** Milliseconds from send to the end of the answer, per status. */
  latencies: Map<number, number[]>;
  /** Connection-level failures by code (ECONNRESET, ECONNREFUSED, timeout...). */
  errors: Map<string, number>;
  /** 503s that carried no Retry-After. */
  refusalsWithoutRetryAfter: number;
  /** Answers that said Connection: close. */
  closeAnswers: number;
  /**
   * Open loop only: how late the generator's own event loop ran (ms). A stall of the generator
   * turns evenly spaced arrivals into a burst when it catches up, which can exceed an in-flight
   * bound that the steady rate never would.
   */
  generatorLagMs?: { p99: number; max: number };
}

function emptyOutcome(): LoadOutcome {
  return { seconds: 0, sent: 0, latencies: new Map(), errors: new Map(), refusalsWithoutRetryAfter: 0, closeAnswers: 0 };
}

export const count = (outcome: LoadOutcome, status: number) => outcome.latencies.get(status)?.length ?? 0;
export const errorCount = (outcome: LoadOutcome) => [...outcome.errors.values()].reduce((a, b) => a + b, 0);
export const statusCounts = (outcome: LoadOutcome) => Object.fromEntries([...outcome.latencies].map(([s, l]) => [s, l.length]));

export interface Target {
  url: string;
  path: string;
  method?: 'GET' | 'POST';
  /** Bodies sent in turn. */
  bodies?: string[];
  /** Per-request client timeout (default 30 s). */
  timeoutMs?: number;
}

/** A target's request bodies as the bytes the load sends (one prepared request per body). */
const preparedRequests = (target: Target): Buffer[] => rawRequestsTo(new URL(target.path, target.url), target.method ?? 'POST', target.bodies ?? [undefined]);

const pool = (target: Target, maxSockets: number): RawHttpPool => RawHttpPool.to(new URL(target.url), { maxSockets, timeoutMs: target.timeoutMs ?? 30_000 });

/** One request; resolves with its status (or an error code) and records it in `outcome`. */
async function send(connections: RawHttpPool, bytes: Buffer, outcome: LoadOutcome): Promise<{ status?: number; error?: string }> {
  const started = performance.now();
  outcome.sent++;
  const answer = await connections.request(bytes);
  if (answer.status === undefined) {
    const code = answer.error ?? 'UNKNOWN';
    outcome.errors.set(code, (outcome.errors.get(code) ?? 0) + 1);
    return { error: code };
  }
  let list = outcome.latencies.get(answer.status);
  if (!list) outcome.latencies.set(answer.status, (list = []));
  list.push(performance.now() - started);
  if (answer.status === 503 && !answer.retryAfter) outcome.refusalsWithoutRetryAfter++;
  if (answer.close) outcome.closeAnswers++;
  return { status: answer.status };
}

/**
 * N connections, each with one request outstanding, flat out for `durationS` (closed loop).
 * `stopOn` ends a connection's loop at the first error with one of those codes (a client that
 * gives up on a server that refuses connections).
 */
export async function closedLoop(target: Target, connections: number, durationS: number, options: { stopOn?: string[]; until?: () => boolean } = {}): Promise<LoadOutcome> {
  const sockets = pool(target, connections);
  const outcome = emptyOutcome();
  const requests = preparedRequests(target);
  const started = performance.now();
  const deadline = started + durationS * 1000;
  let next = 0;
  const loop = async () => {
    while (performance.now() < deadline && !options.until?.()) {
      const answer = await send(sockets, requests[next++ % requests.length]!, outcome);
      if (answer.error && options.stopOn?.includes(answer.error)) return;
    }
  };
  await Promise.all(Array.from({ length: connections }, loop));
  outcome.seconds = (performance.now() - started) / 1000;
  sockets.destroy();
  return outcome;
}

/**
 * Open loop: request i leaves at start + i/rate whatever happened to the earlier ones (evenly
 * spaced arrivals), on pooled keep-alive connections. With N connections flat out, mean latency
 * is N / throughput whatever the server does (Little's law); an open loop is how refusal
 * latency can be judged at all.
 */
export async function openLoop(target: Target, rate: number, durationS: number, maxSockets = 512): Promise<LoadOutcome> {
  const sockets = pool(target, maxSockets);
  const outcome = emptyOutcome();
  const requests = preparedRequests(target);
  const pending = new Set<Promise<unknown>>();
  const total = Math.floor(rate * durationS);
  const interval = 1000 / rate;
  const started = performance.now();
  let sent = 0;
  const lag = monitorEventLoopDelay({ resolution: 5 });
  lag.enable();
  await new Promise<void>((resolve) => {
    const tick = () => {
      const due = Math.min(total, Math.floor((performance.now() - started) / interval) + 1);
      while (sent < due) {
        const answer = send(sockets, requests[sent++ % requests.length]!, outcome);
        pending.add(answer);
        void answer.then(() => pending.delete(answer));
      }
      if (sent >= total) return resolve();
      setTimeout(tick, Math.max(0, started + sent * interval - performance.now()));
    };
    tick();
  });
  await Promise.all([...pending]);
  lag.disable();
  outcome.generatorLagMs = { p99: round(lag.percentile(99) / 1e6), max: round(lag.max / 1e6) };
  outcome.seconds = (performance.now() - started) / 1000;
  sockets.destroy();
  return outcome;
}

/** Latency of GET `path` asked one at a time while something else runs, until `stop()`. */
export function probe(url: string, path: string, everyMs = 20): { stop(): Promise<{ latencies: number[]; failures: number }> } {
  const target: Target = { url, path, method: 'GET', timeoutMs: 10_000 };
  const sockets = pool(target, 1);
  const [request] = preparedRequests(target);
  const latencies: number[] = [];
  let failures = 0;
  let running = true;
  const outcome = emptyOutcome();
  const done = (async () => {
    while (running) {
      const started = performance.now();
      const answer = await send(sockets, request!, outcome);
      if (answer.status === 200) latencies.push(performance.now() - started);
      else failures++;
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return {
    async stop() {
      running = false;
      await done;
      sockets.destroy();
      return { latencies, failures };
    },
  };
}

/**
 * The same sequential probe, from a worker thread of its own: the load generator's event loop
 * (1,000 connections in this process) then cannot delay the probe's own timers and reads, so
 * the figure is the server's answer time as a separate prober (a kubelet) would see it.
 * Plain JavaScript evaluated in the worker: it needs node:http only.
 */
export function probeInThread(url: string, path: string, everyMs = 20): { stop(): Promise<{ latencies: number[]; failures: number }> } {
  const worker = new Worker(
    `
    const { parentPort, workerData } = require('node:worker_threads');
    const http = require('node:http');
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const latencies = [];
    let failures = 0;
    let running = true;
    parentPort.once('message', () => { running = false; });
    const once = () => new Promise((resolve) => {
      const started = performance.now();
      const req = http.request(new URL(workerData.path, workerData.url), { method: 'GET', agent, timeout: 10000 }, (res) => {
        res.resume();
        res.once('end', () => resolve(res.statusCode === 200 ? performance.now() - started : undefined));
        res.once('error', () => resolve(undefined));
      });
      req.once('timeout', () => req.destroy(new Error('client timeout')));
      req.once('error', () => resolve(undefined));
      req.end();
    });
    (async () => {
      while (running) {
        const latency = await once();
        if (latency === undefined) failures++; else latencies.push(latency);
        await new Promise((r) => setTimeout(r, workerData.everyMs));
      }
      agent.destroy();
      parentPort.postMessage({ latencies, failures });
    })();
    `,
    { eval: true, workerData: { url, path, everyMs } },
  );
  const result = new Promise<{ latencies: number[]; failures: number }>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  return {
    async stop() {
      worker.postMessage('stop');
      const outcome = await result;
      await worker.terminate();
      return outcome;
    },
  };
}

/** CPU seconds of one thread of a process (the server thread is the task whose id is the pid). */
export function threadCpuSeconds(pid: number, tid = pid): number {
  const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

export function rssMiB(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) / 1024 : 0;
}

/** Log lines of the server that are about shedding, within a slice of its log. */
export const shedLines = (lines: string[]) => lines.filter((l) => l.includes('requests refused'));

export const SENTIMENT_BODIES = [
  'a gorgeous , witty , seductive movie .',
  'the worst film of the year , a dull and lifeless mess',
  'it is a charming and often affecting journey .',
  'unfunny and tedious , it drags on forever',
].map((text) => JSON.stringify({ text }));

/**
 * The capacity of `target` in this run: the best goodput (200s per second) of closed loops at
 * a few concurrencies, with admission far enough away not to refuse any of them.
 */
export async function measureCapacity(target: Target, durationS: number): Promise<{ rps: number; connections: number }> {
  let best = { rps: 0, connections: 0 };
  for (const connections of [16, 64]) {
    const outcome = await closedLoop(target, connections, durationS);
    const rps = count(outcome, 200) / outcome.seconds;
    if (rps > best.rps) best = { rps, connections };
  }
  return best;
}
