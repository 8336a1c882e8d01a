import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cacheFolder, fetchHubModel, parseHubReference } from '../../src/models/hub.js';
import { startFakeHub, type FakeHub } from '../helpers/fake-hub.js';
import { getJson, postJson, REPO_ROOT, startVigil } from '../helpers/server.js';

/**
 * Hub models are fetched by real code against a local server that speaks the hub's URLs.
 * The repository served is a Hugging Face-style folder made from the embedded sentiment model
 * (graph as onnx/model.onnx only, so the int8-first lookup has to fall back).
 */
let work: string;
let hub: FakeHub;
const TOKEN = 'hf_test_secret_token_1234567890';

beforeAll(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), 'vigil-hub-'));
  const repoDir = path.join(work, 'repo');
  mkdirSync(path.join(repoDir, 'onnx'), { recursive: true });
  const sentiment = path.join(REPO_ROOT, 'models', 'sentiment', '1');
  copyFileSync(path.join(sentiment, 'tokenizer.json'), path.join(repoDir, 'tokenizer.json'));
  copyFileSync(path.join(sentiment, 'tokenizer_config.json'), path.join(repoDir, 'tokenizer_config.json'));
  copyFileSync(path.join(sentiment, 'model.onnx'), path.join(repoDir, 'onnx', 'model.onnx'));
  writeFileSync(
    path.join(repoDir, 'config.json'),
    JSON.stringify({ model_type: 'fasttext', id2label: { 0: 'NEGATIVE', 1: 'POSITIVE' }, max_position_embeddings: 128 }),
  );
  hub = await startFakeHub({ 'acme/tiny-sentiment': { dir: repoDir }, 'acme/gated': { dir: repoDir, token: TOKEN } });
});

afterAll(async () => {
  await hub?.close();
  rmSync(work, { recursive: true, force: true });
});

describe('hub references', () => {
  it('parses owner/name and an optional revision, and refuses anything else', () => {
    expect(parseHubReference('hf:acme/model')).toEqual({ repo: 'acme/model', revision: 'main' });
    expect(parseHubReference('hf:acme/model@v1.2')).toEqual({ repo: 'acme/model', revision: 'v1.2' });
    expect(() => parseHubReference('hf:justaname')).toThrow(/owner\/name/);
    expect(() => parseHubReference('hf:acme/model@../../etc')).toThrow(/revision/);
  });
});

describe('fetching from the hub', () => {
  it('downloads the files into the cache, following the CDN redirect, then needs no network', async () => {
    const cacheDir = path.join(work, 'cache-a');
    const folder = await fetchHubModel('hf:acme/tiny-sentiment', { endpoint: hub.url, cacheDir });
    expect(folder).toBe(cacheFolder({ repo: 'acme/tiny-sentiment', revision: 'main' }, cacheDir));
    expect(readdirSync(folder).sort()).toEqual(['.vigil-complete', 'config.json', 'onnx', 'tokenizer.json', 'tokenizer_config.json']);
    expect(existsSync(path.join(folder, 'onnx', 'model.onnx'))).toBe(true);
    expect(hub.requests).toContain('/acme/tiny-sentiment/resolve/main/onnx/model_quantized.onnx');
    expect(hub.requests).toContain('/cdn/acme/tiny-sentiment/onnx/model.onnx');

    const before = hub.requests.length;
    await fetchHubModel('hf:acme/tiny-sentiment', { endpoint: 'http://127.0.0.1:9', cacheDir });
    expect(hub.requests.length).toBe(before);
  });

  it('says the repository is gated without a token, and sends the token as a bearer header', async () => {
    const cacheDir = path.join(work, 'cache-b');
    const refused = fetchHubModel('hf:acme/gated', { endpoint: hub.url, cacheDir });
    await expect(refused).rejects.toThrow(/gated or private; set HF_TOKEN/);
    const folder = await fetchHubModel('hf:acme/gated', { endpoint: hub.url, cacheDir, token: TOKEN });
    expect(existsSync(path.join(folder, 'config.json'))).toBe(true);
    expect(hub.authorizations).toContain(`Bearer ${TOKEN}`);
  });

  it('names what is missing from a repository that is not a model', async () => {
    await expect(fetchHubModel('hf:acme/nothing-here', { endpoint: hub.url, cacheDir: path.join(work, 'cache-c') })).rejects.toThrow(
      /acme\/nothing-here@main has no config.json/,
    );
  });

  it('reports an unreachable hub clearly', async () => {
    await expect(fetchHubModel('hf:acme/tiny-sentiment', { endpoint: 'http://127.0.0.1:9', cacheDir: path.join(work, 'cache-d') })).rejects.toThrow(
      /cannot reach the hub/,
    );
  });
});

describe('vigil serve --model hf:...', () => {
  it('serves a hub model, fetched once and then from the cache', async () => {
    const env = { HF_ENDPOINT: hub.url, VIGIL_CACHE_DIR: path.join(work, 'serve-cache'), HF_TOKEN: TOKEN };
    const first = await startVigil(['--no-embedded', '--model', 'hf:acme/tiny-sentiment'], env);
    await first.waitUntilReady();
    const models = await getJson(`${first.url}/v1/models`);
    expect(models.body.models.map((m: { name: string }) => m.name)).toEqual(['tiny-sentiment']);
    const answer = await postJson(`${first.url}/v1/models/tiny-sentiment/predict`, { text: 'I am so happy today!' });
    expect(answer.status).toBe(200);
    expect(answer.body.label).toBe('POSITIVE');
    expect(first.logs.join('\n')).not.toContain(TOKEN);
    expect(await first.stop()).toBe(0);

    // The hub is unreachable now; the cached copy is enough.
    const second = await startVigil(['--no-embedded', '--model', 'hf:acme/tiny-sentiment'], { ...env, HF_ENDPOINT: 'http://127.0.0.1:9' });
    await second.waitUntilReady();
    expect((await postJson(`${second.url}/predict`, { text: 'This is the worst day ever.' })).body.label).toBe('NEGATIVE');
    await second.stop();
  });

  it('stays not ready, saying why, when a hub model cannot be fetched', async () => {
    const server = await startVigil(['--model', 'hf:acme/absent'], { HF_ENDPOINT: hub.url, VIGIL_CACHE_DIR: path.join(work, 'serve-cache-2') });
    await server.waitForLog(/model could not be fetched/);
    const ready = await getJson(`${server.url}/ready`);
    expect(ready.status).toBe(503);
    const failed = ready.body.models.find((m: { name: string }) => m.name === 'hf:acme/absent');
    expect(failed).toMatchObject({ state: 'failed', required: true });
    expect(failed.reason).toContain('has no config.json');
    // The embedded models still answer.
    await server.waitForLog(/"model":"sentiment".*"msg":"model ready"/);
    expect((await postJson(`${server.url}/predict`, { text: 'I am so happy today!' })).status).toBe(200);
    await server.stop();
  });
});
