import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const CLI = path.join(REPO_ROOT, 'dist', 'cli', 'main.js');

export interface VigilProcess {
  url: string;
  /** http://127.0.0.1:port of the health port (--health-port), as bound; undefined when it is off. */
  healthUrl?: string;
  process: ChildProcess;
  /** Every line the server wrote to stdout/stderr so far. */
  logs: string[];
  /** Resolves with the exit code once the process has exited. */
  exited: Promise<number | null>;
  /** Waits until a log line matches. */
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<string>;
  waitUntilReady(timeoutMs?: number): Promise<void>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Servers started by this test process; killed if the process exits first (a failed test, a timeout). */
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/**
 * Starts the real `vigil serve` (the built CLI) on a free loopback port and resolves once it
 * listens. Tests talk to it over real HTTP.
 */
export async function startVigil(args: string[], env: NodeJS.ProcessEnv = {}, options: { nodeArgs?: string[] } = {}): Promise<VigilProcess> {
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), CLI, 'serve', '--host', '127.0.0.1', '--port', '0', ...args], {
    cwd: REPO_ROOT,
    // A developer's own token must not change what the tests see; tests that need one pass it.
    // gRPC off unless a test asks (--grpc-port wins): servers of test files running in parallel
    // would all want the default port 8081.
    env: { ...process.env, HF_TOKEN: undefined, HF_TOKEN_FILE: undefined, VIGIL_ADMIN_TOKEN: undefined, LOG_LEVEL: 'info', GRPC_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  child.once('exit', () => running.delete(child));
  const logs: string[] = [];
  const listeners = new Set<() => void>();
  const collect = (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) logs.push(line);
    listeners.forEach((notify) => notify());
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  const waitForLog = (pattern: RegExp, timeoutMs = 60_000) =>
    new Promise<string>((resolve, reject) => {
      const check = () => {
        const line = logs.find((l) => pattern.test(l));
        if (line) {
          cleanup();
          resolve(line);
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`no log line matched ${pattern} within ${timeoutMs} ms; logs:\n${logs.join('\n')}`));
      }, timeoutMs);
      const onExit = () => {
        cleanup();
        reject(new Error(`server exited before logging ${pattern}; logs:\n${logs.join('\n')}`));
      };
      const cleanup = () => {
        clearTimeout(timer);
        listeners.delete(check);
        child.off('exit', onExit);
      };
      listeners.add(check);
      child.once('exit', onExit);
      check();
    });

  const listening = await waitForLog(/"msg":"listening; loading models"/);
  const { url, health_port: healthPort } = JSON.parse(listening) as { url: string; health_port?: number };

  return {
    url,
    healthUrl: healthPort === undefined ? undefined : `${new URL(url).protocol}//${new URL(url).hostname}:${healthPort}`,
    process: child,
    logs,
    exited,
    waitForLog,
    async waitUntilReady(timeoutMs = 90_000) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        const response = await fetch(`${url}/ready`).catch(() => undefined);
        if (response?.status === 200) return;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      throw new Error(`server at ${url} not ready within ${timeoutMs} ms; logs:\n${logs.join('\n')}`);
    },
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

export interface JsonResponse {
  status: number;
  /** The parsed JSON, or the raw text when the body is not JSON (so an assertion shows it). */
  body: any;
  text: string;
  headers: Headers;
}

export async function readResponse(response: Response): Promise<JsonResponse> {
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: response.status, body, text, headers: response.headers };
}

export async function postJson(url: string, body: unknown, headers: Record<string, string> = {}, signal?: AbortSignal): Promise<JsonResponse> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    signal,
  });
  return readResponse(response);
}

export async function getJson(url: string): Promise<JsonResponse> {
  return readResponse(await fetch(url));
}

/** The value of the first line of `url`'s /metrics that matches `pattern`; 0 when none does. */
export async function metricValue(url: string, pattern: RegExp): Promise<number> {
  const line = (await (await fetch(`${url}/metrics`)).text()).split('\n').find((l) => pattern.test(l));
  return line ? Number(line.split(' ').at(-1)) : 0;
}
