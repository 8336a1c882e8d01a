import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeUpstream, writeModelFolder, type FakeUpstream } from '../helpers/fake-upstream.js';
import { REPO_ROOT, startVigil, type VigilProcess, postJson } from '../helpers/server.js';

/**
 * How remote models get their token, through the real server with the embedded models (what
 * `npm start` serves) and no HF_TOKEN: the server starts, sentiment answers, positive-thought
 * is `unavailable` and says how to configure it. Extra models take their token from a
 * per-model variable, from a private file, refuse a world-readable file, or need none.
 */

const FILE_TOKEN = 'hf_fromPRIVATEfile123';
const OPEN_FILE_TOKEN = 'hf_fromWORLDreadable456';
const ENV_TOKEN = 'hf_fromENVvariable789';

let fake: FakeUpstream;
let vigil: VigilProcess;
let root: string;
let openFile: string;
const seen: string[] = [];

async function get(url: string) {
  const response = await fetch(`${vigil.url}${url}`);
  const text = await response.text();
  seen.push(text);
  return { status: response.status, body: JSON.parse(text) as any };
}

async function post(model: string, body: unknown, signal?: AbortSignal) {
  const response = await postJson(`${vigil.url}/v1/models/${model}/predict`, body, {}, signal);
  seen.push(response.text);
  return response;
}

beforeAll(async () => {
  fake = await startFakeUpstream();
  root = mkdtempSync(path.join(tmpdir(), 'vigil-remote-config-'));
  const privateFile = path.join(root, 'private-token');
  writeFileSync(privateFile, `${FILE_TOKEN}\n`);
  chmodSync(privateFile, 0o600);
  openFile = path.join(root, 'open-token');
  writeFileSync(openFile, `${OPEN_FILE_TOKEN}\n`);
  chmodSync(openFile, 0o644);

  const base = JSON.parse(readFileSync(path.join(REPO_ROOT, 'models/positive-thought/1/vigil.model.json'), 'utf8')) as Record<string, any>;
  const variant = (name: string, remote: Record<string, unknown>) =>
    writeModelFolder(root, { ...base, name, remote: { ...base.remote, baseUrl: fake.chatBaseUrl, model: `fake/${name}`, ...remote } });
  const folders = [
    await variant('pt-env', { tokenEnv: 'PT_ENV_TOKEN' }),
    await variant('pt-file', { tokenEnv: 'PT_FILE_TOKEN' }),
    await variant('pt-open-file', { tokenEnv: 'PT_OPEN_TOKEN' }),
    await variant('pt-none', { auth: 'none' }),
  ];
  // No --no-embedded: the embedded models (sentiment, positive-thought...) load as with `npm start`.
  vigil = await startVigil(folders.flatMap((f) => ['--model', f]), {
    HF_TOKEN: '',
    HF_TOKEN_FILE: '',
    PT_ENV_TOKEN: ENV_TOKEN,
    PT_FILE_TOKEN_FILE: privateFile,
    PT_OPEN_TOKEN_FILE: openFile,
  });
  await vigil.waitUntilReady();
});

afterAll(async () => {
  await vigil?.stop();
  await fake?.close();
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('without HF_TOKEN (npm start as shipped)', () => {
  it('is ready, serves sentiment, and reports positive-thought unavailable with how to configure it', async () => {
    const ready = await get('/ready');
    expect(ready.status).toBe(200);
    const thought = ready.body.models.find((m: any) => m.name === 'positive-thought');
    expect(thought).toMatchObject({ state: 'unavailable', required: false, runtime: 'remote', task: 'text-generation' });
    expect(thought.reason).toMatch(/HF_TOKEN=.*HF_TOKEN_FILE=/);

    const sentiment = await post('sentiment', { text: 'I am so happy today!' });
    expect(sentiment.status).toBe(200);
    expect(sentiment.body.label).toBe('POSITIVE');
  });

  it('answers positive-thought with 503 not_configured, JSON and streaming alike, without calling out', async () => {
    const before = fake.count();
    const json = await post('positive-thought', { prompt: 'I feel down.' });
    expect(json.status).toBe(503);
    expect(json.body.error.code).toBe('not_configured');
    expect(json.body.error.message).toContain('HF_TOKEN');
    expect(json.headers.get('retry-after')).toBeNull();

    const response = await fetch(`${vigil.url}/v1/models/positive-thought/predict`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: 'I feel down.', stream: true }),
    });
    const text = await response.text();
    expect(response.status).toBe(503);
    expect(text).toMatch(/^event: error\ndata: \{"error":\{"code":"not_configured"/);
    expect(fake.count()).toBe(before);
  });

  it('describes the remote model in /v1/models without any secret or token source path', async () => {
    const models = await get('/v1/models');
    const thought = models.body.models.find((m: any) => m.name === 'positive-thought');
    expect(thought).toMatchObject({ runtime: 'remote', state: 'unavailable', task: 'text-generation' });
  });
});

describe('per-model token sources', () => {
  it('uses the variable the spec names', async () => {
    expect((await post('pt-env', { prompt: 'hi' })).status).toBe(200);
    expect(fake.requests.at(-1)!.headers.authorization).toBe(`Bearer ${ENV_TOKEN}`);
  });

  it('reads a private (0600) token file', async () => {
    expect((await post('pt-file', { prompt: 'hi' })).status).toBe(200);
    expect(fake.requests.at(-1)!.headers.authorization).toBe(`Bearer ${FILE_TOKEN}`);
  });

  it('refuses a token file readable by others, naming the fix', async () => {
    const res = await post('pt-open-file', { prompt: 'hi' });
    expect([res.status, res.body.error.code]).toEqual([503, 'not_configured']);
    expect(res.body.error.message).toContain(`chmod 600 ${openFile}`);
    const status = (await get('/ready')).body.models.find((m: any) => m.name === 'pt-open-file');
    expect(status).toMatchObject({ state: 'unavailable', reason: expect.stringContaining('mode 0644') });
    expect(fake.count('chat', 'fake/pt-open-file')).toBe(0);
  });

  it('sends no Authorization header with auth "none" (local OpenAI-compatible servers)', async () => {
    expect((await post('pt-none', { prompt: 'hi' })).status).toBe(200);
    expect(fake.requests.at(-1)!.headers.authorization).toBeUndefined();
  });

  it('never shows any token in logs, answers or metrics', async () => {
    seen.push(await (await fetch(`${vigil.url}/metrics`)).text());
    for (const token of [FILE_TOKEN, OPEN_FILE_TOKEN, ENV_TOKEN]) {
      for (const text of seen) expect(text).not.toContain(token);
      expect(vigil.logs.join('\n')).not.toContain(token);
    }
    expect(vigil.logs.some((l) => l.includes('"model unavailable"') && l.includes('pt-open-file'))).toBe(true);
  });
});
