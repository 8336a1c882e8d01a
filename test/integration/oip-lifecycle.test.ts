import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getJson, postJson, startVigil, type VigilProcess } from '../helpers/server.js';
import { pixelsFor, tempModelsDir, tinyDigitsOnnx, writeTinyDigits } from '../helpers/tiny-models.js';

/**
 * Readiness over the Open Inference Protocol as it changes: 503 while a model cannot load,
 * 200 once the repository API loads the fixed folder, 503 again while draining on SIGTERM (with
 * liveness still 200). The repository API is used with the admin token (without one it is off:
 * test/integration/security.test.ts).
 */

const TOKEN = 'lifecycle-admin-token';
const adminPost = (url: string, body: unknown) => postJson(url, body, { authorization: `Bearer ${TOKEN}` });

let server: VigilProcess;
let dir: string;
let base: string;

beforeAll(async () => {
  dir = tempModelsDir('vigil-oip-life-');
  writeTinyDigits(path.join(dir, 'tiny-digits'));
  // A model whose graph is garbage: it fails to load, so the server is not ready.
  const broken = path.join(dir, 'broken-digits');
  writeTinyDigits(broken, 'broken-digits');
  writeFileSync(path.join(broken, 'model.onnx'), 'not an onnx graph');
  server = await startVigil(['--no-embedded', '--model', path.join(dir, 'tiny-digits'), '--model', broken, '--drain-delay-ms', '5000'], {
    VIGIL_ADMIN_TOKEN: TOKEN,
  });
  base = server.url;
  await server.waitForLog(/"model":"broken-digits".*model failed to load|model failed to load.*"model":"broken-digits"/);
  await server.waitForLog(/"model":"tiny-digits".*"msg":"model ready"/);
});

afterAll(async () => {
  await server?.stop('SIGKILL');
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('OIP readiness through a model failure, a repository load and a drain', () => {
  it('while a model cannot load: server ready 503 {"ready":false}, that model 503, the other 200, live 200', async () => {
    const ready = await getJson(`${base}/v2/health/ready`);
    expect(ready.status).toBe(503);
    expect(ready.body).toEqual({ ready: false });
    expect(ready.headers.get('content-type')).toMatch(/^application\/json/);
    expect((await getJson(`${base}/v2/models/broken-digits/ready`)).body).toEqual({ name: 'broken-digits', ready: false });
    expect((await getJson(`${base}/v2/models/broken-digits/ready`)).status).toBe(503);
    expect((await getJson(`${base}/v2/models/tiny-digits/ready`)).status).toBe(200);
    expect((await getJson(`${base}/v2/health/live`)).status).toBe(200);
  });

  it('the index shows the failure and its reason', async () => {
    const { status, body } = await adminPost(`${base}/v2/repository/index`, {});
    expect(status).toBe(200);
    const entry = body.find((e: { name: string }) => e.name === 'broken-digits');
    expect(entry).toMatchObject({ name: 'broken-digits', version: '1', state: 'UNAVAILABLE' });
    expect(entry.reason).not.toBe('');
  });

  it('loading a still-broken folder answers 422 with the reason; after fixing it, load makes it and the server ready', async () => {
    const failed = await adminPost(`${base}/v2/repository/models/broken-digits/load`, {});
    expect(failed.status).toBe(422);
    expect(failed.body.error).toMatch(/broken-digits.*failed to load/);

    writeFileSync(path.join(dir, 'broken-digits', 'model.onnx'), tinyDigitsOnnx());
    const loaded = await adminPost(`${base}/v2/repository/models/broken-digits/load`, {});
    expect(loaded.status, JSON.stringify(loaded.body)).toBe(200);
    expect((await getJson(`${base}/v2/models/broken-digits/ready`)).status).toBe(200);
    const ready = await getJson(`${base}/v2/health/ready`);
    expect(ready.status).toBe(200);
    expect(ready.body).toEqual({ ready: true });
    const answer = await postJson(`${base}/v2/models/broken-digits/infer`, { inputs: [{ name: 'pixels', shape: [1, 784], datatype: 'FP32', data: pixelsFor(8) }] });
    expect(answer.body.outputs[0].data).toEqual(['8']);
  });

  it('a folder that disappeared: load answers 422 and the running version keeps serving', async () => {
    const moved = path.join(dir, 'moved-away');
    mkdirSync(moved);
    rmSync(path.join(dir, 'tiny-digits'), { recursive: true });
    const response = await adminPost(`${base}/v2/repository/models/tiny-digits/load`, {});
    expect(response.status).toBe(422);
    expect(response.body.error).toMatch(/tiny-digits.*no such model folder/);
    expect((await getJson(`${base}/v2/models/tiny-digits/ready`)).status).toBe(200);
  });

  it('on SIGTERM readiness turns 503 {"ready":false} while liveness stays 200 during the drain delay', async () => {
    server.process.kill('SIGTERM');
    await server.waitForLog(/shutting down/);
    const ready = await getJson(`${base}/v2/health/ready`);
    expect(ready.status).toBe(503);
    expect(ready.body).toEqual({ ready: false });
    const model = await getJson(`${base}/v2/models/broken-digits/ready`);
    expect(model.status).toBe(503);
    expect((await getJson(`${base}/v2/health/live`)).body).toEqual({ live: true });
    expect(await server.exited).toBe(0);
  });
});
