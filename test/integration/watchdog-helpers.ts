/**
 * Real processes for the watchdog tests: a Vigil started the way a restart command would
 * start it (detached, on a fixed port, pid written to a file), and the real `vigil watchdog`.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { CLI, REPO_ROOT } from '../helpers/server.js';

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface Service {
  url: string;
  port: number;
  /** `sh <script>` starts one more Vigil in the background and appends its pid to pidsFile. */
  startScript: string;
  pidsFile: string;
  /** Records each run of the start script (one line per run, with the caller's WATCHDOG_ID). */
  runsFile: string;
  logFile: string;
  waitReady(timeoutMs?: number): Promise<void>;
  start(): void;
  currentPid(): number | undefined;
  runs(): string[];
  killAll(): void;
}

/** A start script for a Vigil on `port`: what a real restart command does, minus systemd. */
export function service(dir: string, port: number): Service {
  const pidsFile = path.join(dir, 'pids');
  const runsFile = path.join(dir, 'runs');
  const logFile = path.join(dir, 'vigil.log');
  const startScript = path.join(dir, 'start-vigil.sh');
  writeFileSync(
    startScript,
    [
      '#!/bin/sh',
      'set -eu',
      `echo "\${WATCHDOG_ID:-manual}" >> '${runsFile}'`,
      // Optional pause, so a second watchdog's check lands while the first holds the lock.
      'sleep "${START_DELAY:-0}"',
      `cd '${REPO_ROOT}'`,
      `nohup '${process.execPath}' '${CLI}' serve --host 127.0.0.1 --port ${port} --no-embedded --model sentiment='${path.join(REPO_ROOT, 'models', 'sentiment')}' >> '${logFile}' 2>&1 &`,
      `echo $! >> '${pidsFile}'`,
      '',
    ].join('\n'),
  );
  const pids = () => (existsSync(pidsFile) ? readFileSync(pidsFile, 'utf8').split('\n').filter(Boolean).map(Number) : []);
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    startScript,
    pidsFile,
    runsFile,
    logFile,
    waitReady: (timeoutMs?: number) => waitReady(`http://127.0.0.1:${port}`, timeoutMs, logFile),
    start() {
      const run = spawnSync('/bin/sh', [startScript], { stdio: 'inherit' });
      if (run.status !== 0) throw new Error(`start script failed with ${run.status}`);
    },
    currentPid: () => pids().at(-1),
    runs: () => (existsSync(runsFile) ? readFileSync(runsFile, 'utf8').split('\n').filter(Boolean) : []),
    killAll() {
      for (const pid of pids()) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    },
  };
}

export async function waitReady(url: string, timeoutMs = 90_000, logFile?: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const response = await fetch(`${url}/ready`).catch(() => undefined);
    if (response?.status === 200) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const log = logFile && existsSync(logFile) ? readFileSync(logFile, 'utf8').slice(-3000) : '(no log)';
  throw new Error(`${url} not ready within ${timeoutMs} ms; server log:\n${log}`);
}

export interface LogLine {
  level: string;
  event?: string;
  action?: string;
  result?: string;
  reason?: string;
  msg: string;
  [key: string]: unknown;
}

export interface WatchdogProcess {
  process: ChildProcess;
  lines: LogLine[];
  raw: string[];
  exited: Promise<number | null>;
  /** Waits until `count` log lines match. */
  waitFor(match: (line: LogLine) => boolean, count?: number, timeoutMs?: number): Promise<LogLine[]>;
  count(match: (line: LogLine) => boolean): number;
  stop(): Promise<number | null>;
}

export function startWatchdog(args: string[], env: NodeJS.ProcessEnv = {}): WatchdogProcess {
  const child = spawn(process.execPath, [CLI, 'watchdog', ...args], { cwd: REPO_ROOT, env: { ...process.env, LOG_LEVEL: 'info', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: LogLine[] = [];
  const raw: string[] = [];
  let pending = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    pending += chunk.toString('utf8');
    const parts = pending.split('\n');
    pending = parts.pop() ?? '';
    for (const part of parts) {
      if (!part.trim()) continue;
      raw.push(part);
      try {
        lines.push(JSON.parse(part) as LogLine);
      } catch {
        // not a log line
      }
    }
  });
  child.stderr!.on('data', (chunk: Buffer) => raw.push(chunk.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const count = (match: (line: LogLine) => boolean) => lines.filter(match).length;
  return {
    process: child,
    lines,
    raw,
    exited,
    count,
    async waitFor(match, wanted = 1, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        const found = lines.filter(match);
        if (found.length >= wanted) return found;
        if (child.exitCode !== null) break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      throw new Error(`watchdog did not log ${wanted} matching line(s) within ${timeoutMs} ms; log:\n${raw.join('\n')}`);
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

export const is =
  (event: string, fields: Partial<LogLine> = {}) =>
  (line: LogLine) =>
    line.event === event && Object.entries(fields).every(([k, v]) => line[k] === v);

/** Reads one sample from a Prometheus text exposition. */
export function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const match = /^([a-z_]+)(\{([^}]*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const have = Object.fromEntries((match[3] ?? '').split(',').filter(Boolean).map((kv) => {
      const [k, v] = kv.split('=');
      return [k, v?.replace(/^"|"$/g, '')];
    }));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(match[4]);
  }
  return undefined;
}
