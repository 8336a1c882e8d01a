import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { WebSocket } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, getJson, REPO_ROOT, startVigil, type VigilProcess, type JsonResponse } from '../helpers/server.js';

/**
 * The health port (--health-port): a real `vigil serve` with the port on an ephemeral number,
 * reported in its listening line like the main port. Liveness from the heartbeat, readiness
 * mirrored from the server thread, the drain, a port in use. A stalled server thread is made
 * from outside, without a hook in the server: SIGSTOP would stop every thread, but the V8
 * inspector (`--inspect`, Debugger.pause) stops the server thread alone, while the health thread
 * runs on. The decision itself is unit-tested with given timestamps (test/unit/health-state.test.ts).
 */

const TOKEN = 'health-port-test-admin-token';

/** Asks until `done` holds (the mirror follows within a heartbeat); the last answer if it never does. */
async function until(url: string, done: (answer: JsonResponse) => boolean, timeoutMs = 30_000): Promise<JsonResponse> {
  const deadline = Date.now() + timeoutMs;
  let last: JsonResponse;
  do {
    last = await getJson(url);
    if (done(last)) return last;
    await new Promise((resolve) => setTimeout(resolve, 50));
  } while (Date.now() < deadline);
  return last;
}

describe('the health port', () => {
  let server: VigilProcess;

  beforeAll(async () => {
    server = await startVigil(['--no-embedded', '--model', 'models/sentiment', '--model', 'models/spam', '--health-port', '0', '--drain-delay-ms', '4000'], { VIGIL_ADMIN_TOKEN: TOKEN });
    await server.waitUntilReady();
  });

  afterAll(async () => {
    await server?.stop('SIGKILL');
  });

  it('is reported in the listening line, on its own port', () => {
    expect(server.healthUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(new URL(server.healthUrl!).port).not.toBe(new URL(server.url).port);
  });

  it('/alive: 200 while the server thread beats, with the heartbeat age', async () => {
    const alive = await getJson(`${server.healthUrl}/alive`);
    expect(alive.status).toBe(200);
    expect(alive.headers.get('content-type')).toMatch(/^application\/json/);
    expect(alive.body).toMatchObject({ status: 'alive' });
    expect(alive.body.uptime_seconds).toBeGreaterThan(0);
    expect(alive.body.heartbeat_age_ms).toBeGreaterThanOrEqual(0);
    expect(await getJson(`${server.healthUrl}/v2/health/live`)).toMatchObject({ status: 200, body: { live: true } });
  });

  it('/ready mirrors the main /ready: same status, same body', async () => {
    const main = await getJson(`${server.url}/ready`);
    expect(main.status).toBe(200);
    const mirrored = await until(`${server.healthUrl}/ready`, (answer) => JSON.stringify(answer.body) === JSON.stringify(main.body));
    expect(mirrored.status).toBe(200);
    expect(mirrored.body).toEqual(main.body);
    expect(await getJson(`${server.healthUrl}/v2/health/ready`)).toMatchObject({ status: 200, body: { ready: true } });
  });

  it('follows a model state change made on the main port', async () => {
    const unloaded = await fetch(`${server.url}/v2/repository/models/spam/unload`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
    expect(unloaded.status).toBe(200);
    const isUnloaded = (answer: JsonResponse) => (answer.body.models as { name: string; state: string }[]).filter((m) => m.name === 'spam').every((m) => m.state === 'unloaded');
    const mirrored = await until(`${server.healthUrl}/ready`, isUnloaded);
    expect(isUnloaded(mirrored), JSON.stringify(mirrored.body)).toBe(true);
    expect(mirrored.body).toEqual((await getJson(`${server.url}/ready`)).body);
  });

  it('answers nothing else: 404 and 405 naming what it does answer', async () => {
    const other = await getJson(`${server.healthUrl}/predict`);
    expect(other.status).toBe(404);
    expect(other.body.error.message).toMatch(/answers only \/alive, \/ready, \/v2\/health\/live, \/v2\/health\/ready/);
    const post = await fetch(`${server.healthUrl}/alive`, { method: 'POST', body: '{}' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
  });

  it('on SIGTERM: /ready says 503 shutting down while /alive stays 200, then the port closes with the process', async () => {
    server.process.kill('SIGTERM');
    const draining = await until(`${server.healthUrl}/ready`, (answer) => answer.status === 503);
    expect(draining.status).toBe(503);
    expect(draining.body).toMatchObject({ ready: false, reason: 'shutting down' });
    expect(await getJson(`${server.healthUrl}/v2/health/ready`)).toMatchObject({ status: 503, body: { ready: false } });
    // --drain-delay-ms 4000: the listener is still open, and the process alive.
    expect(await getJson(`${server.healthUrl}/alive`)).toMatchObject({ status: 200, body: { status: 'alive' } });
    expect(await server.exited).toBe(0);
    const after = await fetch(`${server.healthUrl}/alive`).then(() => 'answered', (error: Error & { cause?: { code?: string } }) => error.cause?.code);
    expect(after).toBe('ECONNREFUSED');
  });
});

describe('the health port already in use', () => {
  it('stops the start with exit 2 and one line naming the port', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const { port } = blocker.address() as { port: number };
    const child = spawn(process.execPath, [CLI, 'serve', '--host', '127.0.0.1', '--port', '0', '--grpc-port', '0', '--health-port', String(port), '--no-embedded', '--model', 'models/sentiment'], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
      child.stdout.resume();
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
      expect(code, stderr).toBe(2);
      expect(stderr).toContain(`vigil serve: cannot listen for health checks on 127.0.0.1:${port}: EADDRINUSE`);
      expect(stderr).not.toMatch(/\n\s+at /); // no stack trace
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      blocker.close();
    }
  });
});

/** The inspector of a child started with --inspect=127.0.0.1:0: one method call at a time. */
async function inspector(server: VigilProcess): Promise<{ call(method: string): Promise<unknown>; close(): void }> {
  const line = await server.waitForLog(/Debugger listening on ws:\/\//);
  const socket = new WebSocket(/(ws:\/\/\S+)/.exec(line)![1]!);
  await new Promise((resolve, reject) => {
    socket.addEventListener('open', resolve, { once: true });
    socket.addEventListener('error', reject, { once: true });
  });
  let next = 0;
  const waiting = new Map<number, (result: unknown) => void>();
  socket.addEventListener('message', (event) => {
    const message = JSON.parse(String(event.data)) as { id?: number; result?: unknown };
    if (message.id !== undefined) waiting.get(message.id)?.(message.result);
  });
  return {
    call(method) {
      const id = ++next;
      return new Promise((resolve) => {
        waiting.set(id, resolve);
        socket.send(JSON.stringify({ id, method }));
      });
    },
    close: () => socket.close(),
  };
}

describe('the health port, server thread paused in the debugger', () => {
  let server: VigilProcess;

  beforeAll(async () => {
    server = await startVigil(['--no-embedded', '--model', 'models/sentiment', '--health-port', '0', '--health-stall-ms', '500'], { NODE_OPTIONS: '--inspect=127.0.0.1:0' });
    await server.waitUntilReady();
    await until(`${server.healthUrl}/ready`, (answer) => answer.status === 200);
  });

  afterAll(async () => {
    await server?.stop('SIGKILL');
  });

  it('/alive says 503 with how long the server thread has stalled, /ready 503; both 200 again once it runs', async () => {
    const debug = await inspector(server);
    try {
      await debug.call('Debugger.enable');
      await debug.call('Debugger.pause');
      const stalled = await until(`${server.healthUrl}/alive`, (answer) => answer.status === 503);
      expect(stalled.status).toBe(503);
      expect(stalled.body).toMatchObject({ status: 'stalled', stall_bound_ms: 500 });
      expect(stalled.body.stalled_ms).toBeGreaterThan(500);
      expect(stalled.body.message).toMatch(/^the server thread has shown no progress for \d+ ms \(bound: --health-stall-ms 500\)$/);
      expect(await getJson(`${server.healthUrl}/ready`)).toMatchObject({ status: 503, body: { ready: false, reason: 'server thread stalled' } });
      expect(await getJson(`${server.healthUrl}/v2/health/live`)).toMatchObject({ status: 503, body: { live: false } });
      await debug.call('Debugger.resume');
      const alive = await until(`${server.healthUrl}/alive`, (answer) => answer.status === 200);
      expect(alive.body).toMatchObject({ status: 'alive' });
      expect((await until(`${server.healthUrl}/ready`, (answer) => answer.status === 200)).body.ready).toBe(true);
    } finally {
      await debug.call('Debugger.resume').catch(() => undefined);
      debug.close();
    }
  });
});
