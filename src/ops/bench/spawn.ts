import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import path from 'node:path';
import { PACKAGE_ROOT } from '../../config/serve-config.js';
import { SERVE_ENVIRONMENT } from '../../config/serve-environment.js';

export const CLI = path.join(PACKAGE_ROOT, 'dist', 'cli', 'main.js');

export interface StartedServer {
  url: string;
  pid: number;
  process: ChildProcess;
  /** Milliseconds from spawn to the first 200 from the readiness URL. */
  coldStartMs: number;
  logs: string[];
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Node script and its arguments. */
  script: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  /** The URL when known in advance; else found in a line of the server's output. */
  url?: string;
  urlFrom?(line: string): string | undefined;
  /** Path polled until it answers 200 (e.g. /ready). */
  readyPath: string;
  timeoutMs?: number;
}

/**
 * Starts a server process and waits until it is ready. Cold start is measured from spawn to
 * the first 200 on `readyPath`, polled every 10 ms.
 */
export async function startServerProcess(options: StartOptions): Promise<StartedServer> {
  const started = performance.now();
  const child = spawn(process.execPath, [options.script, ...options.args], {
    cwd: PACKAGE_ROOT,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: string[] = [];
  let url: string | undefined = options.url;
  let ready = false;
  const onData = (chunk: Buffer) => {
    // Once ready, only the tail is kept (cheaply): the bench process shares the cores.
    if (ready) {
      logs.push(chunk.toString('utf8').slice(-2000));
      if (logs.length > 200) logs.splice(0, 100);
      return;
    }
    for (const line of chunk.toString('utf8').split('\n')) {
      if (!line.trim()) continue;
      if (logs.length < 2000) logs.push(line);
      url ??= options.urlFrom?.(line);
    }
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  let exited = false;
  const exit = new Promise<void>((resolve) =>
    child.once('exit', () => {
      exited = true;
      resolve();
    }),
  );
  const stop = async () => {
    if (!exited) child.kill('SIGTERM');
    const timer = setTimeout(() => !exited && child.kill('SIGKILL'), 10_000);
    await exit;
    clearTimeout(timer);
  };

  const deadline = started + (options.timeoutMs ?? 120_000);
  while (performance.now() < deadline) {
    if (exited) throw new Error(`server exited before it was ready:\n${logs.join('\n')}`);
    if (url) {
      const ok = await fetch(`${url}${options.readyPath}`).then(
        (r) => r.status === 200,
        () => false,
      );
      if (ok) {
        ready = true;
        return { url, pid: child.pid!, process: child, coldStartMs: performance.now() - started, logs, stop };
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  await stop();
  throw new Error(`server not ready within ${options.timeoutMs ?? 120_000} ms:\n${logs.join('\n')}`);
}

/** A TCP port nobody listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * `vigil serve` (the built CLI, default log level) on a free loopback port, ready when /ready
 * says 200, in the environment the container image and the systemd units give it.
 */
export async function startVigil(args: string[], env: NodeJS.ProcessEnv = {}): Promise<StartedServer> {
  const port = await freePort();
  return startServerProcess({
    script: CLI,
    // gRPC off unless the caller asks for it: its default port may be taken on a shared machine.
    args: ['serve', '--host', '127.0.0.1', '--port', String(port), ...(args.includes('--grpc-port') ? [] : ['--grpc-port', '0']), ...args],
    env: { ...SERVE_ENVIRONMENT, ...env },
    url: `http://127.0.0.1:${port}`,
    readyPath: '/ready',
  });
}

/** A helper server of the suite (alternative, HTTP ceiling) that prints `LISTENING <url>`. */
export function startHelper(script: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<StartedServer> {
  return startServerProcess({
    script,
    args,
    env,
    urlFrom: (line) => /^LISTENING (\S+)/.exec(line)?.[1],
    readyPath: '/ready',
  });
}
