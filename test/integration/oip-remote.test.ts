import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeUpstream, writeModelFolder, type FakeUpstream } from '../helpers/fake-upstream.js';
import { getJson, postJson, REPO_ROOT, startVigil, type VigilProcess } from '../helpers/server.js';

/**
 * A remote text-generation model (positive-thought) over the Open Inference Protocol, against
 * the fake Hugging Face router on loopback: platform `remote`, `prompt` BYTES in, `text` BYTES
 * out, through the same remote client (and its guard) as the JSON API.
 */

const TOKEN = 'hf_oipRemoteSECRET77';
let fake: FakeUpstream;
let vigil: VigilProcess;
let root: string;

beforeAll(async () => {
  fake = await startFakeUpstream({ token: TOKEN });
  root = mkdtempSync(path.join(tmpdir(), 'vigil-oip-remote-'));
  const base = JSON.parse(readFileSync(path.join(REPO_ROOT, 'models/positive-thought/1/vigil.model.json'), 'utf8')) as Record<string, any>;
  const thought = await writeModelFolder(root, { ...base, remote: { ...base.remote, baseUrl: fake.chatBaseUrl, timeoutMs: 2000, retry: { maxRetries: 0 } } });
  vigil = await startVigil(['--no-embedded', '--model', thought], { HF_TOKEN: TOKEN, HF_TOKEN_FILE: '' });
  await vigil.waitUntilReady();
});

afterAll(async () => {
  await vigil?.stop();
  await fake?.close();
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('remote text generation over OIP', () => {
  it('metadata: platform remote, prompt BYTES in, text BYTES out', async () => {
    const { status, body } = await getJson(`${vigil.url}/v2/models/positive-thought`);
    expect(status).toBe(200);
    expect(body).toMatchObject({
      name: 'positive-thought',
      platform: 'remote',
      inputs: [{ name: 'prompt', datatype: 'BYTES', shape: [-1] }],
      outputs: [{ name: 'text', datatype: 'BYTES', shape: [-1] }],
    });
  });

  it('infer: one generated text per prompt, from the upstream', async () => {
    const before = fake.requests.length;
    const { status, body } = await postJson(`${vigil.url}/v2/models/positive-thought/infer`, {
      id: 'g1',
      inputs: [{ name: 'prompt', shape: [2, 1], datatype: 'BYTES', data: [['I failed my test.'], ['My cat is ill.']] }],
    });
    expect(status, JSON.stringify(body)).toBe(200);
    expect(body).toMatchObject({ model_name: 'positive-thought', model_version: '1', id: 'g1' });
    expect(body.outputs).toEqual([{ name: 'text', datatype: 'BYTES', shape: [2], data: [fake.reply, fake.reply] }]);
    expect(fake.requests.length - before).toBe(2);
  });

  it('an empty prompt is a 400 naming the element, and never reaches the upstream', async () => {
    const before = fake.requests.length;
    const { status, body } = await postJson(`${vigil.url}/v2/models/positive-thought/infer`, { inputs: [{ name: 'prompt', shape: [1], datatype: 'BYTES', data: ['  '] }] });
    expect(status).toBe(400);
    expect(body.error).toMatch(/input "prompt": data\[0\]: "prompt" must not be empty/);
    expect(fake.requests.length).toBe(before);
  });
});
