import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startFakeUpstream, writeModelFolder, type FakeUpstream } from '../helpers/fake-upstream.js';
import { metricValue, postJson, REPO_ROOT, startVigil, type VigilProcess } from '../helpers/server.js';
import { postHead, rawConnect } from '../helpers/raw-http.js';

/**
 * A remote model whose circuit is open is refused at the door (src/http/door.ts), before its
 * request's body is read: a client hammering it costs what any refusal costs. Through the real
 * server, a fake upstream that resets every call, and raw sockets: an answer to a request whose
 * body never comes can only have come from the door, since the fastify path waits for the body.
 */

const BODY = JSON.stringify({ text: 'a fine film' });

let fake: FakeUpstream;
let vigil: VigilProcess;
let root: string;

const metric = (pattern: RegExp) => metricValue(vigil.url, pattern);

/** Sends a request's headers and no body; the first answer on the connection. */
async function headersOnly(requestPath: string) {
  const connection = await rawConnect(vigil.url);
  connection.write(postHead(requestPath, Buffer.byteLength(BODY)));
  const [answer] = await connection.responses(1);
  connection.socket.destroy();
  return answer!;
}

/** Fails calls to `model` until its circuit opens (threshold 3), and checks that it did. */
async function openCircuit(model: string): Promise<void> {
  for (let i = 0; i < 3; i++) expect((await postJson(`${vigil.url}/v1/models/${model}/predict`, JSON.parse(BODY))).status).toBe(503);
  const refused = await postJson(`${vigil.url}/v1/models/${model}/predict`, JSON.parse(BODY));
  expect(refused.body.error.code).toBe('circuit_open');
}

beforeAll(async () => {
  fake = await startFakeUpstream();
  root = mkdtempSync(path.join(tmpdir(), 'vigil-circuit-door-'));
  const example = JSON.parse(readFileSync(path.join(REPO_ROOT, 'examples/dual-mode/sentiment-remote/vigil.model.json'), 'utf8')) as Record<string, any>;
  const remote = (name: string, cooldownMs: number) =>
    writeModelFolder(root, {
      ...example,
      name,
      fallback: undefined,
      remote: { ...example.remote, model: `test/${name}`, baseUrl: fake.classificationBaseUrl, timeoutMs: 1000, retry: { maxRetries: 0 }, circuitBreaker: { failureThreshold: 3, cooldownMs } },
    });
  const folders = [await remote('classifier', 600_000), await remote('recovering', 400)];
  vigil = await startVigil(folders.flatMap((folder) => ['--model', folder]), { HF_TOKEN: 'hf_circuitDOORtoken1', HF_TOKEN_FILE: '' });
  await vigil.waitUntilReady();
});

afterAll(async () => {
  await vigil?.stop();
  await fake?.close();
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('an open circuit at the door', () => {
  it('is answered 503 circuit_open with Retry-After before the body arrives, on every path that reaches the model, and counted as the call', async () => {
    fake.inject({ kind: 'reset' }, { times: Infinity, model: 'test/classifier' });
    await openCircuit('classifier');
    const upstreamCalls = fake.count('classify', 'test/classifier');
    const apiErrors = /^errors_api_total\{reason="circuit_open"\}/;
    const inferenceErrors = /^vigil_inference_errors_total\{model="classifier",version="1",reason="circuit_open"\}/;
    const httpAnswers = /^http_requests_total\{method="POST",route="\/v1\/models\/:name\/predict",status="503"\}/;
    const before = { requests: await metric(/^requests_api_total /), api: await metric(apiErrors), inference: await metric(inferenceErrors), http: await metric(httpAnswers) };

    for (const requestPath of ['/v1/models/classifier/predict', '/v1/models/classifier/versions/1/predict']) {
      const answer = await headersOnly(requestPath);
      expect(answer.status).toBe(503);
      expect(JSON.parse(answer.body).error.code).toBe('circuit_open');
      const retryAfter = Number(answer.headers['retry-after']);
      expect(retryAfter > 500 && retryAfter <= 600).toBe(true);
    }
    // OIP: its own error shape, the same refusal.
    const oip = await headersOnly('/v2/models/classifier/infer');
    expect(oip.status).toBe(503);
    expect(JSON.parse(oip.body).error).toMatch(/model "classifier" is failing upstream, so calls are paused \(circuit open\)/);
    expect(oip.headers['retry-after']).toBeDefined();

    expect((await metric(/^requests_api_total /)) - before.requests).toBe(3);
    expect((await metric(apiErrors)) - before.api).toBe(3);
    expect((await metric(inferenceErrors)) - before.inference).toBe(3);
    // Counted under the route template each path matches, as fastify would have.
    expect((await metric(httpAnswers)) - before.http).toBe(1);
    expect(fake.count('classify', 'test/classifier')).toBe(upstreamCalls);
    // No stack trace and no line per refusal (the shed summary line says what was refused).
    expect(vigil.logs.filter((l) => l.includes('"stack"'))).toEqual([]);
  });

  it('leaves the connection usable: a large body it never read is discarded, and the next request on it is served', async () => {
    // The classifier's circuit, opened by the first test, stays open (a 600 s cooldown).
    const large = JSON.stringify({ text: 'word '.repeat(50_000) });
    const connection = await rawConnect(vigil.url);
    connection.write(postHead('/v1/models/classifier/predict', Buffer.byteLength(large)) + large);
    const local = JSON.stringify({ text: 'a lovely film' });
    connection.write(postHead('/v1/models/sentiment/predict', Buffer.byteLength(local)) + local);
    const [refused, served] = await connection.responses(2);
    connection.socket.destroy();
    expect(refused!.status).toBe(503);
    expect(JSON.parse(refused!.body).error.code).toBe('circuit_open');
    expect(served!.status).toBe(200);
    expect(JSON.parse(served!.body).label).toBeDefined();
  });

  it('does not answer for a version the model does not have: that is still the caller’s 404', async () => {
    const answer = await postJson(`${vigil.url}/v1/models/classifier/versions/7/predict`, JSON.parse(BODY));
    expect(answer.status).toBe(404);
    expect(answer.body.error.code).toBe('model_not_found');
  });

  it('lets a trial call through once the cooldown is over, and the model answers again', async () => {
    fake.inject({ kind: 'reset' }, { times: 3, model: 'test/recovering' });
    await openCircuit('recovering');
    expect((await headersOnly('/v1/models/recovering/predict')).status).toBe(503);
    await eventually(async () => (await postJson(`${vigil.url}/v1/models/recovering/predict`, JSON.parse(BODY))).status === 200, 'the recovered model answers 200', 5_000);
    expect((await postJson(`${vigil.url}/v1/models/recovering/predict`, JSON.parse(BODY))).body.label).toBeDefined();
  });
});
