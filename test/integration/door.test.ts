import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, writeModelFolder } from '../helpers/fake-upstream.js';
import { getJson, metricValue, postJson, REPO_ROOT, startVigil, type VigilProcess } from '../helpers/server.js';
import { postHead, rawConnect, type RawConnection } from '../helpers/raw-http.js';
import { RawHttpPool, rawRequestsTo } from '../../src/ops/bench/raw-http.js';

/**
 * Admission at the door, timeouts for slow and silent clients, and the drain, through the real
 * server and real sockets. Requests are held in flight deterministically by sending their
 * headers and holding the body back: admission counts a request from its headers, so the
 * assertions are on what the server answers, never on how long it took.
 */

const BODY = JSON.stringify({ text: 'a gorgeous , witty , seductive movie .' });

/** Opens `count` predict requests whose bodies are held back: each is in flight until finished. */
async function holdRequests(url: string, path: string, count: number): Promise<RawConnection[]> {
  const held: RawConnection[] = [];
  for (let i = 0; i < count; i++) {
    const connection = await rawConnect(url);
    connection.write(postHead(path, Buffer.byteLength(BODY)) + BODY.slice(0, 5));
    held.push(connection);
  }
  return held;
}

async function finish(held: RawConnection[]): Promise<number[]> {
  for (const connection of held) connection.write(BODY.slice(5));
  const answers = await Promise.all(held.map((c) => c.responses(1)));
  for (const c of held) c.socket.destroy();
  return answers.map((r) => r[0]!.status);
}

describe('admission at the door', () => {
  let server: VigilProcess;
  let root: string;
  beforeAll(async () => {
    // "held": the sentiment model with a batcher that waits up to 3 s for a batch of 64, so the
    // predictions sent to it stay in flight long enough to fill its bound whatever the speed.
    root = mkdtempSync(path.join(tmpdir(), 'vigil-door-'));
    const sentimentDir = path.join(REPO_ROOT, 'models/sentiment/1');
    const spec = JSON.parse(readFileSync(path.join(sentimentDir, 'vigil.model.json'), 'utf8'));
    const held = await writeModelFolder(root, {
      ...spec,
      name: 'held',
      onnx: { ...spec.onnx, file: path.join(sentimentDir, spec.onnx.file) },
      preprocessing: { ...spec.preprocessing, tokenizer: sentimentDir },
      batching: { maxBatchSize: 64, maxDelayMs: 3000 },
    });
    server = await startVigil(['--max-in-flight', '6', '--max-in-flight-per-model', '3', '--model', held]);
    await server.waitUntilReady();
  });
  afterAll(async () => {
    await server?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  it('past the per-model bound: 503 overloaded with Retry-After; other models and health still answer', async () => {
    const shedPattern = /^vigil_requests_shed_total\{model="held",version="",reason="model_in_flight"\}/;
    const shedBefore = await metricValue(server.url, shedPattern);
    // Three predictions wait in held's batcher: its bound of 3 is full (3 of the process's 6 slots).
    const waiting = Array.from({ length: 3 }, () => postJson(`${server.url}/v1/models/held/predict`, JSON.parse(BODY)));
    await eventually(async () => (await metricValue(server.url, /^vigil_queue_depth\{model="held",version="1"\}/)) === 3, 'three predictions waiting in the batcher');
    // One at a time, so the process bound (6) is never what refuses them.
    const refused = [];
    for (let i = 0; i < 4; i++) refused.push(await postJson(`${server.url}/v1/models/held/predict`, JSON.parse(BODY)));
    for (const answer of refused) {
      expect(answer.status).toBe(503);
      expect(answer.body.error.code).toBe('overloaded');
      expect(answer.body.error.message).toMatch(/model "held" is at its bound of 3 requests in flight/);
      const retryAfter = Number(answer.headers.get('retry-after'));
      expect(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 30).toBe(true);
    }
    // OIP speaks its own error shape, and is behind the same bound.
    const oip = await postJson(`${server.url}/v2/models/held/infer`, { inputs: [{ name: 'text', shape: [1], datatype: 'BYTES', data: ['fine'] }] });
    expect(oip.status).toBe(503);
    expect(oip.body.error).toMatch(/model "held" is at its bound of 3 requests in flight/);
    // Refused at the door, from its headers: the answer comes though the body never does.
    const early = await rawConnect(server.url);
    early.write(postHead('/v1/models/held/predict', Buffer.byteLength(BODY)));
    const [earlyAnswer] = await early.responses(1);
    early.socket.destroy();
    expect(earlyAnswer!.status).toBe(503);
    expect((await metricValue(server.url, shedPattern)) - shedBefore).toBe(6);
    // Meanwhile another model answers, and so do health and metrics.
    expect((await postJson(`${server.url}/v1/models/sentiment/predict`, JSON.parse(BODY))).status).toBe(200);
    expect((await getJson(`${server.url}/alive`)).status).toBe(200);
    expect((await fetch(`${server.url}/metrics`)).status).toBe(200);
    // The held ones are answered when their batch leaves (the 3 s wait).
    expect((await Promise.all(waiting)).map((a) => a.status)).toEqual([200, 200, 200]);
    // Health and metrics are behind no bound; the flood is over, so everything answers again.
    for (const path of ['/alive', '/ready', '/health', '/v2/health/live', '/v2/health/ready']) expect((await getJson(`${server.url}${path}`)).status).toBe(200);
    expect((await postJson(`${server.url}/v1/models/spam/predict`, { text: 'win money now' })).status).toBe(200);
  });

  it('a request whose body is withheld holds a process slot, never a model slot', async () => {
    const held = await holdRequests(server.url, '/predict', 5);
    for (let i = 0; i < 200 && (await metricValue(server.url, /^http_requests_in_flight /)) < 6; i++) await new Promise((r) => setTimeout(r, 20));
    // 5 of the process's 6 slots are taken, none of sentiment's 3: the next prediction is served.
    expect((await postJson(`${server.url}/predict`, JSON.parse(BODY))).status).toBe(200);
    // Once their bodies arrive together, sentiment's bound of 3 applies to them like to any.
    const statuses = await finish(held);
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(3);
    expect(statuses.every((s) => s === 200 || s === 503)).toBe(true);
  });

  it('past the process bound: every bounded route is refused, health and metrics are not', async () => {
    const held = await holdRequests(server.url, '/predict', 6);
    for (let i = 0; i < 200 && (await metricValue(server.url, /^http_requests_in_flight /)) < 7; i++) await new Promise((r) => setTimeout(r, 20));
    const before503 = await metricValue(server.url, /^http_requests_total\{method="POST",route="\/v1\/models\/:name\/predict",status="503"\}/);
    const refused = await postJson(`${server.url}/v1/models/digits/predict`, { pixels: Array(784).fill(0) }, { 'x-request-id': 'door-check-1' });
    expect(refused.status).toBe(503);
    expect(refused.body.error).toMatchObject({ code: 'overloaded', request_id: 'door-check-1' });
    expect(refused.body.error.message).toMatch(/the server is at its bound of 6 requests in flight/);
    // Refused before fastify (door.ts), with the answer and the metrics the fastify path gives.
    expect(refused.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(refused.headers.get('x-request-id')).toBe('door-check-1');
    expect(refused.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(await metricValue(server.url, /^http_requests_total\{method="POST",route="\/v1\/models\/:name\/predict",status="503"\}/)).toBe(before503 + 1);
    // OIP paths answer in the protocol's error shape.
    const oip = await postJson(`${server.url}/v2/models/digits/infer`, { inputs: [] });
    expect(oip.status).toBe(503);
    expect(oip.body).toEqual({ error: expect.stringMatching(/bound of 6 requests in flight/) });
    expect((await getJson(`${server.url}/v1/models`)).status).toBe(503);
    expect((await getJson(`${server.url}/alive`)).status).toBe(200);
    expect((await fetch(`${server.url}/metrics`)).status).toBe(200);
    const statuses = await finish(held);
    // Their bodies arrive together: sentiment's bound (3) admits some, refuses the rest.
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(3);
    expect(statuses.every((s) => s === 200 || s === 503)).toBe(true);
    expect((await getJson(`${server.url}/v1/models`)).status).toBe(200);
    // Labelled by model when the path names a served one (digits), else not (GET /v1/models).
    expect(await metricValue(server.url, /^vigil_requests_shed_total\{model="digits",version="",reason="server_in_flight"\}/)).toBe(2);
    expect(await metricValue(server.url, /^vigil_requests_shed_total\{model="",version="",reason="server_in_flight"\}/)).toBe(1);
  });

  it('a flood is refused without a stack trace or a log line per refusal: one summary line at most per second', async () => {
    // Let the summary of the earlier tests' refusals be written first.
    await new Promise((r) => setTimeout(r, 1200));
    const linesBefore = server.logs.length;
    const started = performance.now();
    const answers = await Promise.all(Array.from({ length: 200 }, () => postJson(`${server.url}/predict`, JSON.parse(BODY))));
    const seconds = (performance.now() - started) / 1000;
    const refused = answers.filter((a) => a.status === 503).length;
    expect(answers.every((a) => a.status === 200 || a.status === 503)).toBe(true);
    expect(refused).toBeGreaterThan(0);
    await server.waitForLog(/requests refused/);
    // The summary comes a second after the first refusal; wait for the one covering the last.
    await new Promise((r) => setTimeout(r, 1200));
    const lines = server.logs.slice(linesBefore);
    expect(lines.some((l) => l.includes('"stack"') || l.includes('"err"'))).toBe(false);
    const requestLines = lines.filter((l) => l.includes('"msg":"request"') && l.includes('"route":"/predict"'));
    expect(requestLines.length).toBe(answers.length - refused);
    const summaries = lines.filter((l) => l.includes('requests refused'));
    expect(summaries.length).toBeLessThanOrEqual(Math.ceil(seconds) + 2);
    const summed = summaries.map((l) => JSON.parse(l) as { shed: number }).reduce((sum, l) => sum + l.shed, 0);
    expect(summed).toBe(refused);
  });
});

describe('a refused connection is held back (--refusal-pause-ms)', () => {
  const held = /^vigil_refused_connections_held /;

  it('is not read again for the pause: a client retrying at once waits, then is served', async () => {
    const server = await startVigil(['--no-embedded', '--model', 'models/sentiment', '--max-in-flight', '1', '--refusal-pause-ms', '600']);
    try {
      await server.waitUntilReady();
      const [slot] = await holdRequests(server.url, '/predict', 1);
      const client = await rawConnect(server.url);
      client.write(postHead('/predict', Buffer.byteLength(BODY)) + BODY);
      const [refused] = await client.responses(1);
      const refusedAt = performance.now();
      expect(refused!.status).toBe(503);
      expect(Number(refused!.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      await eventually(async () => (await metricValue(server.url, held)) === 1, 'the refused connection held');
      // Retried at once, on the same connection; the slot frees meanwhile.
      client.write(postHead('/predict', Buffer.byteLength(BODY)) + BODY);
      expect(await finish([slot!])).toEqual([200]);
      const [, retried] = await client.responses(2);
      // Not read before the pause ended (less a margin for the first answer's own delivery).
      expect(performance.now() - refusedAt).toBeGreaterThanOrEqual(500);
      expect(retried!.status).toBe(200);
      expect(await metricValue(server.url, held)).toBe(0);
      client.socket.destroy();
    } finally {
      await server.stop();
    }
  });

  it('is read at once when the drain begins, so its pending request is answered with Connection: close instead of cut off', async () => {
    // The pause (1 s: the refusal's Retry-After) outlasts the drain's grace for open connections
    // (200 ms): without the release, the held connection would be closed with its request unread.
    const server = await startVigil(['--no-embedded', '--model', 'models/sentiment', '--max-in-flight', '1', '--drain-idle-ms', '200']);
    await server.waitUntilReady();
    const [slot] = await holdRequests(server.url, '/predict', 1);
    const client = await rawConnect(server.url);
    client.write(postHead('/predict', Buffer.byteLength(BODY)) + BODY);
    expect((await client.responses(1))[0]!.status).toBe(503);
    await eventually(async () => (await metricValue(server.url, held)) === 1, 'the refused connection held');
    client.write(postHead('/predict', Buffer.byteLength(BODY)) + BODY);
    server.process.kill('SIGTERM');
    const [, pending] = await client.responses(2);
    expect(pending!.status).toBe(503);
    expect(pending!.headers.connection).toBe('close');
    expect(pending!.headers['retry-after']).toMatch(/^\d+$/);
    expect(await client.closed).toBe('end');
    expect(await finish([slot!])).toEqual([200]);
    expect(await server.exited).toBe(0);
  });

  it('more busy connections than one poll of the event loop returns: a connection is refused once a pause, not once a read', async () => {
    // libuv polls again while every slot of its event array (1,024) comes back full, so with more
    // busy connections than that (2,000: 64 served flat out, the rest refused), one poll phase reads a
    // client that retries at once many times over. The hold must begin with the refusal itself,
    // not a turn of the loop later, or those retries are refused again within the same phase.
    const connections = 2000;
    const server = await startVigil(['--no-embedded', '--model', 'models/sentiment', '--max-in-flight', '64', '--refusal-pause-ms', '1000']);
    const target = new URL(`${server.url}/predict`);
    const pool = RawHttpPool.to(target, { maxSockets: connections, timeoutMs: 30_000 });
    try {
      await server.waitUntilReady();
      const [request] = rawRequestsTo(target, 'POST', [BODY]);
      const started = performance.now();
      const stopAt = started + 700; // less than the pause
      let refusedInWindow = 0;
      const statuses = new Set<string>();
      await Promise.all(
        Array.from({ length: connections }, async () => {
          while (performance.now() < stopAt) {
            const answer = await pool.request(request!);
            statuses.add(String(answer.status ?? answer.error));
            if (answer.status === 503 && performance.now() < stopAt) refusedInWindow++;
          }
        }),
      );
      expect([...statuses].sort()).toEqual(['200', '503']);
      // Each connection at most once within one pause (the build that held connections a turn of
      // the loop after the refusal refused 3,418 times in this window, here).
      expect(refusedInWindow).toBeGreaterThan(0);
      expect(refusedInWindow).toBeLessThanOrEqual(connections);
    } finally {
      pool.destroy();
      await server.stop();
    }
  });

  it('with 0, a refused connection is read on at once', async () => {
    const server = await startVigil(['--no-embedded', '--model', 'models/sentiment', '--max-in-flight', '1'], { VIGIL_REFUSAL_PAUSE_MS: '0' });
    try {
      await server.waitUntilReady();
      const [slot] = await holdRequests(server.url, '/predict', 1);
      const client = await rawConnect(server.url);
      // Both refused while the slot is still taken: the second was read without a pause.
      client.write(postHead('/predict', Buffer.byteLength(BODY)) + BODY);
      await client.responses(1);
      client.write(postHead('/predict', Buffer.byteLength(BODY)) + BODY);
      expect((await client.responses(2)).map((r) => r.status)).toEqual([503, 503]);
      expect(await metricValue(server.url, held)).toBe(0);
      expect(await finish([slot!])).toEqual([200]);
      client.socket.destroy();
    } finally {
      await server.stop();
    }
  });
});

describe('slow and silent clients', () => {
  let server: VigilProcess;
  beforeAll(async () => {
    server = await startVigil(['--no-embedded', '--model', 'models/sentiment', '--headers-timeout-ms', '500', '--request-timeout-ms', '1500', '--keep-alive-timeout-ms', '500']);
    await server.waitUntilReady();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('a connection that sends nothing is answered 408 and closed', async () => {
    const silent = await rawConnect(server.url);
    const [answer] = await silent.responses(1);
    expect(answer!.status).toBe(408);
    expect(await silent.closed).toBe('end');
  });

  it('headers that trickle in are cut off with 408', async () => {
    const slow = await rawConnect(server.url);
    slow.write('POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    const timer = setInterval(() => slow.write('X-Slow: 1\r\n'), 100);
    try {
      const [answer] = await slow.responses(1);
      expect(answer!.status).toBe(408);
    } finally {
      clearInterval(timer);
    }
    expect(await slow.closed).toBe('end');
  });

  it('a body that does not arrive in time is answered 408, and its admission slot is given back', async () => {
    const before = await metricValue(server.url, /^http_requests_in_flight /);
    const withheld = await rawConnect(server.url);
    withheld.write(postHead('/predict', Buffer.byteLength(BODY)) + BODY.slice(0, 3));
    const timer = setInterval(() => withheld.write(' '), 200); // trickles, never completes in time
    try {
      const [answer] = await withheld.responses(1);
      expect(answer!.status).toBe(408);
    } finally {
      clearInterval(timer);
    }
    await withheld.closed;
    for (let i = 0; i < 100 && (await metricValue(server.url, /^http_requests_in_flight /)) > before; i++) await new Promise((r) => setTimeout(r, 20));
    expect(await metricValue(server.url, /^http_requests_in_flight /)).toBe(before);
    expect((await postJson(`${server.url}/predict`, JSON.parse(BODY))).status).toBe(200);
  });

  it('an idle keep-alive connection is closed cleanly after the keep-alive timeout', async () => {
    const idle = await rawConnect(server.url);
    idle.write(postHead('/predict', Buffer.byteLength(BODY)) + BODY);
    const [answer] = await idle.responses(1);
    expect(answer!.status).toBe(200);
    expect(answer!.headers['keep-alive']).toMatch(/timeout=0|timeout=1/);
    expect(await idle.closed).toBe('end');
  });
});

describe('drain on SIGTERM', () => {
  it('answers say Connection: close, open keep-alive connections end cleanly after one more answer, nothing in flight is lost', async () => {
    const server = await startVigil(['--no-embedded', '--model', 'models/sentiment', '--drain-delay-ms', '800', '--drain-idle-ms', '5000']);
    await server.waitUntilReady();
    // One keep-alive connection used before SIGTERM and left idle, one request in flight.
    const idle = await rawConnect(server.url);
    idle.write(postHead('/predict', Buffer.byteLength(BODY)) + BODY);
    const [first] = await idle.responses(1);
    expect(first!.status).toBe(200);
    expect(first!.headers.connection).not.toBe('close');
    const [inFlight] = await holdRequests(server.url, '/predict', 1);

    server.process.kill('SIGTERM');
    await server.waitForLog(/shutting down: readiness is now 503/);
    // During the drain delay, new requests are still served, and told to close.
    const during = await fetch(`${server.url}/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: BODY });
    expect(during.status).toBe(200);
    expect(during.headers.get('connection')).toBe('close');
    await during.text();

    // The in-flight request finishes with its answer, marked close.
    const [held] = await finish([inFlight!]);
    expect(held).toBe(200);

    // Once the listener has closed, the idle connection still gets its next answer, then a clean close.
    await new Promise((r) => setTimeout(r, 1000));
    idle.write(postHead('/predict', Buffer.byteLength(BODY)) + BODY);
    const [, second] = await idle.responses(2);
    expect(second!.status).toBe(200);
    expect(second!.headers.connection).toBe('close');
    expect(await idle.closed).toBe('end');
    expect(await server.exited).toBe(0);
  });
});
