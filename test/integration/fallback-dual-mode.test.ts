import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startFakeUpstream, writeModelFolder, type FakeUpstream } from '../helpers/fake-upstream.js';
import { REPO_ROOT, startVigil, type VigilProcess, postJson } from '../helpers/server.js';

/**
 * Fallback between modes, through the real server: a local model that sheds load falls back
 * to a remote classifier; a remote classifier that is down, circuit-broken or not configured
 * falls back to a local one; a remote generator falls back to another (a local
 * OpenAI-compatible server), streaming included. The answer names the fallback; a counter counts it.
 */

const TOKEN = 'hf_fallbackSECRETtoken7';
const SST2 = 'distilbert/distilbert-base-uncased-finetuned-sst-2-english';
const SMOL = 'HuggingFaceTB/SmolLM3-3B';
const BACKUP_LLM = 'local/backup-llm';

let fake: FakeUpstream;
let vigil: VigilProcess;
let root: string;
const seen: string[] = [];

const readSpec = (relative: string) => JSON.parse(readFileSync(path.join(REPO_ROOT, relative), 'utf8')) as Record<string, any>;

async function post(model: string, body: unknown, signal?: AbortSignal) {
  const response = await postJson(`${vigil.url}/v1/models/${model}/predict`, body, {}, signal);
  seen.push(response.text);
  return response;
}

async function fallbacks(labels: Record<string, string>): Promise<number> {
  const text = await (await fetch(`${vigil.url}/metrics`)).text();
  seen.push(text);
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  const line = text.split('\n').find((l) => l.startsWith('vigil_fallbacks_total{') && want.every((w) => l.includes(w)));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

beforeAll(async () => {
  fake = await startFakeUpstream();
  root = mkdtempSync(path.join(tmpdir(), 'vigil-fallback-'));
  const sentimentDir = path.join(REPO_ROOT, 'models/sentiment/1');
  const local = readSpec('models/sentiment/1/vigil.model.json');
  const localCopy = (name: string, extra: Record<string, unknown>) =>
    writeModelFolder(root, {
      ...local,
      name,
      onnx: { ...local.onnx, file: path.join(sentimentDir, local.onnx.file) },
      preprocessing: { ...local.preprocessing, tokenizer: sentimentDir },
      ...extra,
    });
  // The committed example, pointed at the fake, falling back to a steady local copy.
  const example = readSpec('examples/dual-mode/sentiment-remote/vigil.model.json');
  const fast = { timeoutMs: 1000, retry: { maxRetries: 1, baseDelayMs: 10, maxDelayMs: 20 } };
  const thought = readSpec('models/positive-thought/1/vigil.model.json');
  const folders = [
    // One waiting at most, and it waits up to 1 s for a batch of 64: the second input of a burst
    // finds the queue full whatever the speed of the engine (a batch of one left at once, and a
    // fast enough server then never had two waiting).
    await localCopy('sentiment-shedding', { fallback: 'sentiment-remote', batching: { maxBatchSize: 64, maxDelayMs: 1000, maxQueue: 1 } }),
    await localCopy('sentiment-steady', {}),
    await writeModelFolder(root, {
      ...example,
      fallback: 'sentiment-steady',
      remote: { ...example.remote, baseUrl: fake.classificationBaseUrl, ...fast, circuitBreaker: { failureThreshold: 4, cooldownMs: 60_000 } },
    }),
    await writeModelFolder(root, {
      ...example,
      name: 'sentiment-unconfigured',
      fallback: 'sentiment-steady',
      remote: { ...example.remote, baseUrl: fake.classificationBaseUrl, tokenEnv: 'VIGIL_TEST_UNSET_TOKEN' },
    }),
    await writeModelFolder(root, {
      ...thought,
      name: 'thought-primary',
      fallback: 'thought-backup',
      remote: { ...thought.remote, baseUrl: fake.chatBaseUrl, ...fast, retry: { maxRetries: 0 } },
    }),
    await writeModelFolder(root, {
      ...thought,
      name: 'thought-backup',
      remote: { ...thought.remote, baseUrl: fake.chatBaseUrl, model: BACKUP_LLM, auth: 'none', timeoutMs: 2000 },
    }),
  ];
  vigil = await startVigil(['--no-embedded', ...folders.flatMap((f) => ['--model', f])], { HF_TOKEN: TOKEN, HF_TOKEN_FILE: '', VIGIL_TEST_UNSET_TOKEN: '' });
  await vigil.waitUntilReady();
});

afterEach(() => fake.clear());

afterAll(async () => {
  await vigil?.stop();
  await fake?.close();
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('local primary, remote fallback', () => {
  it('answers a shed request from the remote classifier and says so', async () => {
    const before = fake.count('classify');
    const answers = await Promise.all(Array.from({ length: 6 }, (_, i) => post('sentiment-shedding', { text: `What a wonderful day number ${i}` })));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200, 200]);
    const fellBack = answers.filter((a) => a.body.fallback);
    expect(fellBack.length).toBeGreaterThanOrEqual(1);
    for (const a of fellBack) {
      expect(a.body).toMatchObject({ model: 'sentiment-remote', version: '1', label: 'POSITIVE', fallback: { from: 'sentiment-shedding', reason: 'overloaded' } });
      expect(a.body.scores).toEqual({ POSITIVE: expect.any(Number), NEGATIVE: expect.any(Number) });
    }
    for (const a of answers.filter((x) => !x.body.fallback)) expect(a.body.model).toBe('sentiment-shedding');
    expect(fake.count('classify')).toBe(before + fellBack.length);
    const sent = fake.requests.at(-1)!;
    expect(sent.path).toBe(`/hf-inference/models/${SST2}`);
    expect(sent.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(sent.body).toEqual({ inputs: expect.stringContaining('wonderful day') });
    expect(await fallbacks({ model: 'sentiment-shedding', fallback: 'sentiment-remote', reason: 'overloaded' })).toBe(fellBack.length);
  });
});

describe('remote primary, local fallback', () => {
  it('answers from the remote classifier while it is up', async () => {
    const res = await post('sentiment-remote', { text: 'This is terrible' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ model: 'sentiment-remote', label: 'NEGATIVE' });
    expect(res.body.fallback).toBeUndefined();
  });

  it('falls back to the local model when the API fails after its retries', async () => {
    fake.inject({ kind: 'status', status: 503, body: { error: 'Service Unavailable' } }, { route: 'classify', times: 2 });
    const calls = fake.count('classify');
    const res = await post('sentiment-remote', { text: 'I love it' });
    expect(res.status).toBe(200);
    expect(fake.count('classify')).toBe(calls + 2); // the first attempt and its retry
    expect(res.body).toMatchObject({ model: 'sentiment-steady', fallback: { from: 'sentiment-remote', reason: 'upstream_unavailable' } });
    expect(await fallbacks({ model: 'sentiment-remote', fallback: 'sentiment-steady', reason: 'upstream_unavailable' })).toBe(1);
  });

  it('falls back at once, without calling the API, while its circuit is open', async () => {
    fake.inject({ kind: 'status', status: 500 }, { route: 'classify', times: Infinity });
    // Failing attempts add up to the breaker's threshold (4); the request that crosses it still
    // reports the upstream's error, the next ones are refused by the open circuit.
    const reasons: string[] = [];
    while (reasons.length < 4 && reasons.at(-1) !== 'circuit_open') reasons.push((await post('sentiment-remote', { text: 'x' })).body.fallback.reason);
    expect(reasons.at(-1)).toBe('circuit_open');
    expect(new Set(reasons.slice(0, -1))).toEqual(new Set(['upstream_error']));
    const calls = fake.count('classify');
    const res = await post('sentiment-remote', { text: 'Fine weather' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ model: 'sentiment-steady', fallback: { from: 'sentiment-remote', reason: 'circuit_open' } });
    expect(fake.count('classify')).toBe(calls);
  });

  it('falls back when the remote model is not configured, which /v1/models reports', async () => {
    const res = await post('sentiment-unconfigured', { text: 'Lovely' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ model: 'sentiment-steady', fallback: { from: 'sentiment-unconfigured', reason: 'not_configured' } });
    const models = (await (await fetch(`${vigil.url}/v1/models`)).json()) as { models: { name: string; state: string; reason?: string; fallback?: string }[] };
    seen.push(JSON.stringify(models));
    expect(models.models.find((m) => m.name === 'sentiment-unconfigured')).toMatchObject({
      state: 'unavailable',
      reason: expect.stringContaining('VIGIL_TEST_UNSET_TOKEN'),
      fallback: 'sentiment-steady',
    });
  });

  it('does not fall back on the caller\'s own mistakes', async () => {
    const res = await post('sentiment-remote', { text: '' });
    expect([res.status, res.body.error.code]).toEqual([400, 'invalid_input']);
  });
});

describe('remote generator, fallback generator', () => {
  it('answers from the backup, which gets no token, when the primary is down', async () => {
    fake.inject({ kind: 'status', status: 503 }, { model: SMOL, times: Infinity });
    const res = await post('thought-primary', { prompt: 'I am anxious about tomorrow.' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ text: fake.reply, model: 'thought-backup', fallback: { from: 'thought-primary', reason: 'upstream_unavailable' } });
    const backupCall = fake.requests.filter((r) => r.body?.model === BACKUP_LLM).at(-1)!;
    expect(backupCall.headers.authorization).toBeUndefined();
  });

  it('streams from the backup when the primary fails before its first token', async () => {
    fake.inject({ kind: 'status', status: 500 }, { model: SMOL, times: Infinity });
    const response = await fetch(`${vigil.url}/v1/models/thought-primary/predict`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: 'Everything went wrong.', stream: true }),
    });
    const text = await response.text();
    seen.push(text);
    expect(response.status).toBe(200);
    const events = text.split('\n\n').filter(Boolean).map((b) => ({ event: b.split('\n')[0]!.slice(7), data: JSON.parse(b.split('\n')[1]!.slice(6)) }));
    expect(events.filter((e) => e.event === 'token').map((e) => e.data.text).join('')).toBe(fake.reply);
    expect(events.at(-1)).toMatchObject({ event: 'done', data: { model: 'thought-backup', fallback: { from: 'thought-primary', reason: 'upstream_error' } } });
    await eventually(async () => (await fallbacks({ model: 'thought-primary', reason: 'upstream_error' })) >= 1, 'the fallback to be counted');
  });

  it('never shows the token in logs or answers', () => {
    expect(seen.length).toBeGreaterThan(10);
    for (const text of seen) expect(text).not.toContain(TOKEN);
    expect(vigil.logs.join('\n')).not.toContain(TOKEN);
  });
});
