import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startFakeUpstream, writeModelFolder, type FakeUpstream } from '../helpers/fake-upstream.js';
import { REPO_ROOT, startVigil, type VigilProcess, postJson } from '../helpers/server.js';

/**
 * The positive-thought model through the real server, against a fake Hugging Face router on
 * loopback that fails on demand. Every resilience path is driven by an injected fault and
 * checked by status, error code, upstream request counts and /metrics, never by a stopwatch.
 */

const TOKEN = 'hf_integrationSECRETtoken42';
const SMOL = 'HuggingFaceTB/SmolLM3-3B';
const BREAKER_MODEL = 'fake/breaker-llm';
const CAPPED_MODEL = 'fake/capped-llm';

let fake: FakeUpstream;
let vigil: VigilProcess;
let root: string;
/** Every body the server sent back, to prove the token never appears in any of them. */
const seen: string[] = [];

const committedSpec = () =>
  JSON.parse(readFileSync(path.join(REPO_ROOT, 'models/positive-thought/1/vigil.model.json'), 'utf8')) as Record<string, any>;

async function post(model: string, body: unknown, signal?: AbortSignal) {
  const response = await postJson(`${vigil.url}/v1/models/${model}/predict`, body, {}, signal);
  seen.push(response.text);
  return response;
}

interface SseEvent {
  event: string;
  data: any;
}

function parseSse(text: string): SseEvent[] {
  return text
    .split('\n\n')
    .filter((block) => block.trim() !== '')
    .map((block) => {
      const lines = block.split('\n');
      const event = lines.find((l) => l.startsWith('event: '))?.slice(7) ?? 'message';
      const data = lines.filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n');
      return { event, data: JSON.parse(data) };
    });
}

async function stream(model: string, body: Record<string, unknown>) {
  const response = await post(model, { ...body, stream: true });
  return { ...response, events: response.headers.get('content-type')?.startsWith('text/event-stream') ? parseSse(response.text) : [] };
}

async function metricsText(): Promise<string> {
  const text = await (await fetch(`${vigil.url}/metrics`)).text();
  seen.push(text);
  return text;
}

/** The value of one series in Prometheus text format, 0 when absent. */
function metric(text: string, name: string, labels: Record<string, string> = {}): number {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const match = /^([a-zA-Z_:][\w:]*)(\{([^}]*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const have = Object.fromEntries([...(match[3] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(match[4]);
  }
  return 0;
}

beforeAll(async () => {
  fake = await startFakeUpstream({ token: TOKEN });
  root = mkdtempSync(path.join(tmpdir(), 'vigil-remote-'));
  const base = committedSpec();
  // 1 s: short, yet far above what a loopback answer takes on a loaded 2-core CI machine.
  const fast = { timeoutMs: 1000, retry: { maxRetries: 2, baseDelayMs: 10, maxDelayMs: 50, maxRetryAfterMs: 1500 } };
  const thought = await writeModelFolder(root, {
    ...base,
    remote: { ...base.remote, baseUrl: fake.chatBaseUrl, ...fast, circuitBreaker: { failureThreshold: 1000, cooldownMs: 1000 } },
  });
  const breaker = await writeModelFolder(root, {
    ...base,
    name: 'thought-breaker',
    remote: { ...base.remote, baseUrl: fake.chatBaseUrl, model: BREAKER_MODEL, ...fast, retry: { maxRetries: 0 }, circuitBreaker: { failureThreshold: 3, cooldownMs: 1500 } },
  });
  const capped = await writeModelFolder(root, {
    ...base,
    name: 'thought-capped',
    remote: { ...base.remote, baseUrl: fake.chatBaseUrl, model: CAPPED_MODEL, timeoutMs: 5000, retry: { maxRetries: 0 }, concurrency: { maxInFlight: 1, maxQueue: 0 } },
  });
  vigil = await startVigil(
    ['--no-embedded', '--model', thought, '--model', breaker, '--model', capped, '--model', path.join(REPO_ROOT, 'models/sentiment')],
    { HF_TOKEN: TOKEN, HF_TOKEN_FILE: '' },
  );
  await vigil.waitUntilReady();
});

afterEach(() => fake.clear());

afterAll(async () => {
  await vigil?.stop();
  await fake?.close();
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('positive-thought against a healthy upstream', () => {
  it('answers {text, model, version, request_id, usage}, sending the token, the system prompt and the sentiment upstream', async () => {
    const before = fake.count('chat');
    const res = await post('positive-thought', { prompt: 'I failed my driving test today.', sentiment: { label: 'NEGATIVE', score: 0.97 } });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      text: fake.reply,
      model: 'positive-thought',
      version: '1',
      request_id: res.headers.get('x-request-id'),
      usage: { prompt_tokens: 42, completion_tokens: 8, total_tokens: 50 },
    });
    expect(fake.count('chat')).toBe(before + 1);
    const sent = fake.requests.at(-1)!;
    expect(sent.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(sent.body).toMatchObject({ model: SMOL, max_tokens: 96, stream: false });
    expect(sent.body.messages[0]).toMatchObject({ role: 'system' });
    expect(sent.body.messages[0].content).toContain('/no_think');
    expect(sent.body.messages[0].content).toContain('ONE short encouraging thought');
    expect(sent.body.messages[1].content).toContain('I failed my driving test today.');
    expect(sent.body.messages[1].content).toContain('NEGATIVE, confidence 0.97');
  });

  it('streams token events and one done event holding the non-streaming answer', async () => {
    const res = await stream('positive-thought', { prompt: 'I feel lonely tonight.' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const tokens = res.events.filter((e) => e.event === 'token');
    expect(tokens.length).toBeGreaterThan(1);
    expect(tokens.map((e) => e.data.text).join('')).toBe(fake.reply);
    expect(res.events.at(-1)).toEqual({
      event: 'done',
      data: { text: fake.reply, model: 'positive-thought', version: '1', request_id: res.headers.get('x-request-id'), usage: expect.any(Object) },
    });
    expect(res.events.filter((e) => e.event === 'done' || e.event === 'error')).toHaveLength(1);
    expect(fake.requests.at(-1)!.body).toMatchObject({ stream: true, stream_options: { include_usage: true } });
    const metrics = await metricsText();
    expect(metric(metrics, 'vigil_remote_time_to_first_token_seconds_count', { model: 'positive-thought' })).toBeGreaterThanOrEqual(1);
    expect(metric(metrics, 'vigil_remote_tokens_total', { model: 'positive-thought', kind: 'completion' })).toBeGreaterThan(0);
  });

  it('refuses bad input with 400 naming the field, before any upstream call', async () => {
    const before = fake.count();
    for (const [body, field] of [
      [{}, '"prompt"'],
      [{ prompt: '   ' }, '"prompt"'],
      [{ prompt: 'x'.repeat(5000) }, '"prompt"'],
      [{ prompt: 'hi', sentiment: { label: 'POSITIVE', score: 7 } }, '"sentiment.score"'],
      [{ prompt: 'hi', stream: 'yes' }, '"stream"'],
    ] as const) {
      const res = await post('positive-thought', body);
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('invalid_input');
      expect(res.body.error.message).toContain(field);
    }
    const classifier = await post('sentiment', { text: 'a', stream: true });
    expect([classifier.status, classifier.body.error.code]).toEqual([400, 'streaming_not_supported']);
    const batch = await post('sentiment', { texts: ['a', 'b'], stream: true });
    expect([batch.status, batch.body.error.code]).toEqual([400, 'streaming_needs_one_input']);
    expect(fake.count()).toBe(before);
  });
});

describe('positive-thought when the upstream fails', () => {
  it('retries a 500 and answers; the retry is counted', async () => {
    fake.inject({ kind: 'status', status: 500 }, { model: SMOL });
    const before = fake.count('chat', SMOL);
    const res = await post('positive-thought', { prompt: 'Rough day.' });
    expect(res.status).toBe(200);
    expect(fake.count('chat', SMOL)).toBe(before + 2);
    const metrics = await metricsText();
    expect(metric(metrics, 'vigil_remote_retries_total', { model: 'positive-thought', reason: 'server_error' })).toBeGreaterThanOrEqual(1);
    expect(metric(metrics, 'vigil_remote_upstream_responses_total', { model: 'positive-thought', status: '500' })).toBeGreaterThanOrEqual(1);
  });

  it('waits out a short Retry-After on 429, then answers', async () => {
    fake.inject({ kind: 'status', status: 429, retryAfter: '1' }, { model: SMOL });
    const before = fake.count('chat', SMOL);
    const res = await post('positive-thought', { prompt: 'So tired.' });
    expect(res.status).toBe(200);
    expect(fake.count('chat', SMOL)).toBe(before + 2);
    expect(metric(await metricsText(), 'vigil_remote_retries_total', { model: 'positive-thought', reason: 'rate_limited' })).toBeGreaterThanOrEqual(1);
  });

  it('passes a long Retry-After on to the caller as 503 upstream_rate_limited instead of waiting', async () => {
    fake.inject({ kind: 'status', status: 429, retryAfter: '120' }, { model: SMOL });
    const before = fake.count('chat', SMOL);
    const res = await post('positive-thought', { prompt: 'Ugh.' });
    expect([res.status, res.body.error.code]).toEqual([503, 'upstream_rate_limited']);
    expect(res.headers.get('retry-after')).toBe('120');
    expect(fake.count('chat', SMOL)).toBe(before + 1);
  });

  it('gives up after the retries on a persistent 503: 503 upstream_unavailable', async () => {
    fake.inject({ kind: 'status', status: 503 }, { model: SMOL, times: 3 });
    const before = fake.count('chat', SMOL);
    const res = await post('positive-thought', { prompt: 'Meh.' });
    expect([res.status, res.body.error.code]).toEqual([503, 'upstream_unavailable']);
    expect(res.body.error.message).toContain('currently loading');
    expect(fake.count('chat', SMOL)).toBe(before + 3);
  });

  it('times out a slow upstream: 504 upstream_timeout, counted', async () => {
    fake.inject({ kind: 'latency', ms: 3000 }, { model: SMOL });
    const res = await post('positive-thought', { prompt: 'Waiting.' });
    expect([res.status, res.body.error.code]).toEqual([504, 'upstream_timeout']);
    const metrics = await metricsText();
    expect(metric(metrics, 'vigil_remote_upstream_responses_total', { model: 'positive-thought', status: 'timeout' })).toBeGreaterThanOrEqual(1);
    expect(metric(metrics, 'errors_api_total', { reason: 'upstream_timeout' })).toBeGreaterThanOrEqual(1);
  });

  it('reports malformed JSON as 502 upstream_error', async () => {
    fake.inject({ kind: 'malformed' }, { model: SMOL });
    const res = await post('positive-thought', { prompt: 'Hm.' });
    expect([res.status, res.body.error.code]).toEqual([502, 'upstream_error']);
  });

  it('reports a rejected token as 502 auth_failed, without retrying, and never echoes the token', async () => {
    fake.inject({ kind: 'status', status: 401 }, { model: SMOL });
    const before = fake.count('chat', SMOL);
    const res = await post('positive-thought', { prompt: 'Hello.' });
    expect([res.status, res.body.error.code]).toEqual([502, 'auth_failed']);
    expect(res.body.error.message).toMatch(/HF_TOKEN/);
    expect(fake.count('chat', SMOL)).toBe(before + 1);

    fake.inject({ kind: 'status', status: 400, body: { error: `Authorization: Bearer ${TOKEN} is malformed` } }, { model: SMOL });
    const echoed = await post('positive-thought', { prompt: 'Hello.' });
    expect([echoed.status, echoed.body.error.code]).toEqual([502, 'upstream_error']);
    expect(echoed.text).not.toContain(TOKEN);
    expect(echoed.body.error.message).toContain('[redacted]');
  });

  it('retries a connection reset before the first token, transparently', async () => {
    fake.inject({ kind: 'reset' }, { model: SMOL });
    const res = await stream('positive-thought', { prompt: 'Fine.' });
    expect(res.status).toBe(200);
    expect(res.events.at(-1)!.event).toBe('done');
  });

  it('never retries a stream that broke after its first token: tokens, then one error event', async () => {
    fake.inject({ kind: 'reset-mid-stream', afterTokens: 2 }, { model: SMOL });
    const before = fake.count('chat', SMOL);
    const res = await stream('positive-thought', { prompt: 'Broken.' });
    expect(res.status).toBe(200);
    expect(fake.requests.slice(before).map((r) => r.fault)).toEqual(['reset-mid-stream']);
    expect(res.events.map((e) => e.event)).toEqual(['token', 'token', 'error']);
    expect(res.events[2]!.data.error.code).toBe('upstream_unavailable');
    expect(res.events[2]!.data.error.message).toMatch(/not retried/);
    expect(fake.count('chat', SMOL)).toBe(before + 1);
  });

  it('turns an error event inside the upstream stream into an error event', async () => {
    fake.inject({ kind: 'error-event', afterTokens: 1 }, { model: SMOL });
    const res = await stream('positive-thought', { prompt: 'Hmm.' });
    expect(res.events.map((e) => e.event)).toEqual(['token', 'error']);
    expect(res.events[1]!.data.error).toMatchObject({ code: 'upstream_error' });
    expect(res.events[1]!.data.error.message).toContain('CUDA out of memory');
  });

  it('times out a stream that goes silent mid-way (idle timeout)', async () => {
    fake.inject({ kind: 'stall-mid-stream', afterTokens: 1 }, { model: SMOL });
    const res = await stream('positive-thought', { prompt: 'Stalled.' });
    expect(res.events.map((e) => e.event)).toEqual(['token', 'error']);
    expect(res.events[1]!.data.error.code).toBe('upstream_timeout');
  });

  it('answers a stream that fails before its first token with the true status and an SSE error body', async () => {
    fake.inject({ kind: 'status', status: 503 }, { model: SMOL, times: 3 });
    const res = await stream('positive-thought', { prompt: 'Down.' });
    expect(res.status).toBe(503);
    expect(res.events).toHaveLength(1);
    expect(res.events[0]).toMatchObject({ event: 'error', data: { error: { code: 'upstream_unavailable' } } });
  });

  it('aborts the upstream call when the client disconnects mid-stream', async () => {
    fake.tokenDelayMs = 200;
    const abortedBefore = fake.aborted;
    const controller = new AbortController();
    const response = await fetch(`${vigil.url}/v1/models/positive-thought/predict`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: 'Leaving.', stream: true }),
      signal: controller.signal,
    });
    const reader = response.body!.getReader();
    const first = await reader.read();
    expect(new TextDecoder().decode(first.value)).toContain('event: token');
    controller.abort();
    await eventually(() => fake.aborted > abortedBefore, 'the upstream request to be aborted');
    await eventually(async () => metric(await metricsText(), 'errors_api_total', { reason: 'client_closed' }) >= 1, 'client_closed to be counted');
  });

  it('aborts the upstream call when the client of a JSON request disconnects', async () => {
    fake.inject({ kind: 'latency', ms: 3000 }, { model: CAPPED_MODEL });
    const calls = fake.count('chat', CAPPED_MODEL);
    const abortedBefore = fake.aborted;
    const controller = new AbortController();
    const pending = post('thought-capped', { prompt: 'Never mind.' }, controller.signal).catch((error: Error) => error.name);
    await eventually(() => fake.count('chat', CAPPED_MODEL) > calls, 'the call to reach the upstream');
    controller.abort();
    expect(await pending).toBe('AbortError');
    await eventually(() => fake.aborted > abortedBefore, 'the upstream request to be aborted');
    // The slot is free again at once: the next call is not shed.
    expect((await post('thought-capped', { prompt: 'Again.' })).status).toBe(200);
  });

  it('keeps local sentiment answering, and readiness green, while the remote side is down', async () => {
    fake.inject({ kind: 'status', status: 503 }, { model: SMOL, times: Infinity });
    const remote = await post('positive-thought', { prompt: 'Down again.' });
    expect(remote.status).toBe(503);
    const local = await post('sentiment', { text: 'What a lovely morning!' });
    expect(local.status).toBe(200);
    expect(local.body).toMatchObject({ model: 'sentiment', label: expect.any(String) });
    expect((await fetch(`${vigil.url}/ready`)).status).toBe(200);
    const deep = await fetch(`${vigil.url}/health?deep=1`);
    const health = (await deep.json()) as { checks: { name: string; ok: boolean; required: boolean }[] };
    seen.push(JSON.stringify(health));
    expect(deep.status).toBe(200);
    expect(health.checks.find((c) => c.name === 'positive-thought')).toMatchObject({ ok: false, required: false });
    expect(health.checks.find((c) => c.name === 'sentiment')).toMatchObject({ ok: true, required: true });
  });

  it('probes with one real upstream call of max_tokens 1 for /health?deep=1', async () => {
    const before = fake.count('chat', SMOL);
    const deep = await fetch(`${vigil.url}/health?deep=1`);
    const health = (await deep.json()) as { checks: { name: string; ok: boolean }[] };
    seen.push(JSON.stringify(health));
    expect(health.checks.find((c) => c.name === 'positive-thought')).toMatchObject({ ok: true });
    const probes = fake.requests.slice(before).filter((r) => r.body?.model === SMOL);
    expect(probes.length).toBeGreaterThanOrEqual(1);
    expect(probes[0]!.body.max_tokens).toBe(1);
  });
});

describe('circuit breaker and concurrency cap', () => {
  it('opens after 3 failures, answers 503 circuit_open at once without calling upstream, then closes after the cool-down', async () => {
    fake.inject({ kind: 'status', status: 500 }, { model: BREAKER_MODEL, times: 3 });
    for (let i = 0; i < 3; i++) expect((await post('thought-breaker', { prompt: 'x' })).body.error.code).toBe('upstream_error');
    expect(metric(await metricsText(), 'vigil_remote_circuit_state', { model: 'thought-breaker' })).toBe(1);

    const calls = fake.count('chat', BREAKER_MODEL);
    const refused = await post('thought-breaker', { prompt: 'x' });
    expect([refused.status, refused.body.error.code]).toEqual([503, 'circuit_open']);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    // A stream is refused as well, as an event stream that carries the status (sse.ts).
    const streamed = await stream('thought-breaker', { prompt: 'x' });
    expect(streamed.status).toBe(503);
    expect(streamed.events.map((e) => [e.event, e.data.error?.code])).toEqual([['error', 'circuit_open']]);
    expect(Number(streamed.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(fake.count('chat', BREAKER_MODEL)).toBe(calls);

    // After the cool-down one trial call goes through; it succeeds, so the circuit closes.
    await eventually(async () => (await post('thought-breaker', { prompt: 'x' })).status === 200, 'the half-open trial to succeed');
    expect(fake.count('chat', BREAKER_MODEL)).toBe(calls + 1);
    expect(metric(await metricsText(), 'vigil_remote_circuit_state', { model: 'thought-breaker' })).toBe(0);
  });

  it('sheds calls past the concurrency cap with 503 overloaded and Retry-After', async () => {
    fake.inject({ kind: 'latency', ms: 800 }, { model: CAPPED_MODEL });
    const calls = fake.count('chat', CAPPED_MODEL);
    const first = post('thought-capped', { prompt: 'first' });
    await eventually(() => fake.count('chat', CAPPED_MODEL) > calls, 'the first call to reach the upstream');
    expect(metric(await metricsText(), 'vigil_remote_upstream_in_flight', { model: 'thought-capped' })).toBe(1);
    const second = await post('thought-capped', { prompt: 'second' });
    expect([second.status, second.body.error.code]).toEqual([503, 'overloaded']);
    expect(second.headers.get('retry-after')).toBe('1');
    expect((await first).status).toBe(200);
    expect(fake.count('chat', CAPPED_MODEL)).toBe(calls + 1);
  });
});

describe('observability', () => {
  it('exports the mood-app names and the vigil_remote_* family', async () => {
    const metrics = await metricsText();
    expect(metric(metrics, 'requests_api_total')).toBeGreaterThan(5);
    expect(metric(metrics, 'api_generation_latency_seconds_count')).toBeGreaterThan(0);
    expect(metrics).toMatch(/api_generation_latency_seconds_bucket\{le="60"\}/);
    for (const reason of ['upstream_timeout', 'upstream_rate_limited', 'upstream_unavailable', 'upstream_error', 'auth_failed', 'circuit_open', 'overloaded']) {
      expect(metric(metrics, 'errors_api_total', { reason }), reason).toBeGreaterThanOrEqual(1);
    }
    expect(metric(metrics, 'vigil_remote_upstream_responses_total', { model: 'positive-thought', status: '200' })).toBeGreaterThan(0);
    expect(metric(metrics, 'vigil_remote_upstream_responses_total', { model: 'positive-thought', status: '503' })).toBeGreaterThan(0);
    expect(metric(metrics, 'vigil_remote_tokens_total', { model: 'positive-thought', kind: 'prompt' })).toBeGreaterThan(0);
    expect(metrics).toContain('vigil_remote_upstream_queued{model="positive-thought"}');
  });

  it('never shows the token in logs, answers, metrics or /v1/models', async () => {
    const models = await (await fetch(`${vigil.url}/v1/models`)).text();
    expect(models).toContain('positive-thought');
    seen.push(models, await metricsText());
    expect(seen.length).toBeGreaterThan(20);
    for (const text of seen) expect(text).not.toContain(TOKEN);
    expect(vigil.logs.length).toBeGreaterThan(10);
    expect(vigil.logs.join('\n')).not.toContain(TOKEN);
  });
});
