import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, getJson, postJson, startVigil, type VigilProcess } from '../helpers/server.js';

/**
 * Admission control and deadlines through the real server: copies of the embedded sentiment
 * model with tiny queues, flooded with concurrent requests. Assertions are on status codes,
 * bodies and counters, never on durations: whichever requests the server sheds, every answer
 * must be a correct 200 or a well-formed 503/504, and the counters must match what clients saw.
 */

let server: VigilProcess;
let dir: string;

const TEXTS = [
  'a gorgeous , witty , seductive movie .',
  'the worst film of the year , a dull and lifeless mess',
  'it is a charming and often affecting journey .',
  'unfunny and tedious , it drags on forever',
  'an utterly delightful experience',
  'painfully boring and badly acted',
];

/** A copy of models/sentiment/1 under a new name, with its own batching section. */
function modelCopy(name: string, batching: Record<string, number>): string {
  const target = path.join(dir, name, '1');
  cpSync(path.join(REPO_ROOT, 'models', 'sentiment', '1'), target, { recursive: true });
  const specFile = path.join(target, 'vigil.model.json');
  const spec = JSON.parse(readFileSync(specFile, 'utf8')) as Record<string, unknown>;
  writeFileSync(specFile, JSON.stringify({ ...spec, name, batching }, null, 2));
  return path.join(dir, name);
}

async function metricValue(pattern: RegExp): Promise<number> {
  const text = (await (await fetch(`${server.url}/metrics`)).text()).split('\n');
  const line = text.find((l) => pattern.test(l));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

const expected = new Map<string, string>();

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'vigil-admission-'));
  const tiny = modelCopy('tiny-queue', { maxQueue: 2, maxBatchSize: 1 });
  const roomy = modelCopy('roomy', { maxQueue: 1000, maxBatchSize: 1, maxDelayMs: 0 });
  server = await startVigil(['--no-embedded', '--model', tiny, '--model', roomy]);
  await server.waitUntilReady();
  // The right answer for each text, asked one at a time.
  for (const text of TEXTS) {
    const { status, body } = await postJson(`${server.url}/v1/models/roomy/predict`, { text });
    expect(status).toBe(200);
    expected.set(text, body.label as string);
  }
});

afterAll(async () => {
  await server?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('admission control: queue full', () => {
  it('a flood past maxQueue gets 503 + Retry-After for some, correct 200s for the rest, and every shed is counted', async () => {
    const before = await metricValue(/^vigil_requests_shed_total\{.*model="tiny-queue".*reason="queue_full"/);
    const flood = Array.from({ length: 120 }, (_, i) => TEXTS[i % TEXTS.length]!);
    const answers = await Promise.all(flood.map((text) => postJson(`${server.url}/v1/models/tiny-queue/predict`, { text }).then((a) => ({ ...a, sent: text }))));

    const ok = answers.filter((a) => a.status === 200);
    const shed = answers.filter((a) => a.status === 503);
    expect(ok.length + shed.length).toBe(flood.length); // nothing else: no 500s, no 504s
    expect(shed.length).toBeGreaterThan(0);
    expect(ok.length).toBeGreaterThan(0);
    for (const a of ok) {
      expect(a.body.label).toBe(expected.get(a.sent));
      expect(a.body.model).toBe('tiny-queue');
    }
    for (const a of shed) {
      expect(a.body.error.code).toBe('overloaded');
      const retryAfter = Number(a.headers.get('retry-after'));
      expect(Number.isInteger(retryAfter)).toBe(true);
      expect(retryAfter).toBeGreaterThanOrEqual(1);
    }
    const after = await metricValue(/^vigil_requests_shed_total\{.*model="tiny-queue".*reason="queue_full"/);
    expect(after - before).toBe(shed.length);
  });

  it('a request with more inputs than the queue holds is refused whole with 503', async () => {
    const { status, body, headers } = await postJson(`${server.url}/v1/models/tiny-queue/predict`, { texts: TEXTS.slice(0, 3) });
    expect(status).toBe(503);
    expect(body.error.code).toBe('overloaded');
    expect(body.error.message).toMatch(/at most 2/);
    expect(headers.get('retry-after')).not.toBeNull();
  });

  it('the queue and engine gauges return to zero once the flood is over', async () => {
    expect(await metricValue(/^vigil_queue_depth\{.*model="tiny-queue"/)).toBe(0);
    expect(await metricValue(/^vigil_batches_in_flight\{.*model="tiny-queue"/)).toBe(0);
    // Every engine call took one input (maxBatchSize 1).
    const calls = await metricValue(/^vigil_batch_size_count\{.*model="tiny-queue"/);
    const inputs = await metricValue(/^vigil_batch_size_sum\{.*model="tiny-queue"/);
    expect(calls).toBeGreaterThan(0);
    expect(inputs).toBe(calls);
  });
});

describe('deadlines', () => {
  it('timeout 0 behind a busy engine is 504 deadline_exceeded, unrun, and counted as shed reason deadline', async () => {
    const before = await metricValue(/^vigil_requests_shed_total\{.*model="roomy".*reason="deadline"/);
    const flood = Array.from({ length: 60 }, (_, i) => TEXTS[i % TEXTS.length]!);
    const answers = await Promise.all(
      flood.map((text, i) =>
        // Half say it in the header, half in the body.
        (i % 2 === 0
          ? postJson(`${server.url}/v1/models/roomy/predict`, { text }, { 'x-vigil-timeout-ms': '0' })
          : postJson(`${server.url}/v1/models/roomy/predict`, { text, timeout_ms: 0 })
        ).then((a) => ({ ...a, sent: text })),
      ),
    );
    const ok = answers.filter((a) => a.status === 200);
    const late = answers.filter((a) => a.status === 504);
    expect(ok.length + late.length).toBe(flood.length);
    expect(late.length).toBeGreaterThan(0);
    for (const a of ok) expect(a.body.label).toBe(expected.get(a.sent));
    for (const a of late) expect(a.body.error.code).toBe('deadline_exceeded');
    const after = await metricValue(/^vigil_requests_shed_total\{.*model="roomy".*reason="deadline"/);
    expect(after - before).toBe(late.length);
  });

  it('a generous deadline changes nothing for an idle server', async () => {
    const { status, body } = await postJson(`${server.url}/v1/models/roomy/predict`, { text: TEXTS[0], timeout_ms: 60_000 }, { 'x-vigil-timeout-ms': '60000' });
    expect(status).toBe(200);
    expect(body.label).toBe(expected.get(TEXTS[0]!));
  });

  it.each([
    [{ 'x-vigil-timeout-ms': 'soon' }, {}],
    [{ 'x-vigil-timeout-ms': '-5' }, {}],
    [{ 'x-vigil-timeout-ms': '1.5' }, {}],
    [{}, { timeout_ms: -1 }],
    [{}, { timeout_ms: 'fast' }],
    [{}, { timeout_ms: 10_000_000 }],
  ])('an invalid deadline (%j %j) is 400 invalid_timeout', async (headers, extra) => {
    const { status, body } = await postJson(`${server.url}/v1/models/roomy/predict`, { text: TEXTS[0], ...extra }, headers as Record<string, string>);
    expect(status).toBe(400);
    expect(body.error.code).toBe('invalid_timeout');
  });

  it('the model description shows the batching settings from its spec', async () => {
    const { body } = await getJson(`${server.url}/v1/models/tiny-queue`);
    expect(body.batching).toMatchObject({ maxQueue: 2, maxBatchSize: 1 });
  });
});
