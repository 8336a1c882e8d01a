import { rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getJson, postJson, startVigil, type VigilProcess } from '../helpers/server.js';
import { pixelsFor, rectanglePng, tempModelsDir, tinyTabularExpected, writeTinyDigits, writeTinyTabular } from '../helpers/tiny-models.js';

/**
 * The JSON API of the image-classification and tabular-regression tasks against the real
 * server, with tiny graphs of known answers: every accepted input form, and a 400 naming the
 * field for every kind of bad input.
 */

let server: VigilProcess;
let dir: string;
const predict = (model: string, body: unknown) => postJson(`${server.url}/v1/models/${model}/predict`, body);

function expectError(response: { status: number; body: any }, status: number, mentions: RegExp): void {
  expect(response.status, JSON.stringify(response.body)).toBe(status);
  expect(response.body.error.message).toMatch(mentions);
}

beforeAll(async () => {
  dir = tempModelsDir('vigil-tasks-');
  writeTinyDigits(path.join(dir, 'tiny-digits'));
  writeTinyTabular(path.join(dir, 'tiny-air'));
  server = await startVigil(['--no-embedded', '--model', path.join(dir, 'tiny-digits'), '--model', path.join(dir, 'tiny-air'), '--max-batch-inputs', '4']);
  await server.waitUntilReady();
});

afterAll(async () => {
  await server?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('image-classification JSON API', () => {
  it('takes 784 flat pixels and answers label, score and scores with the spec labels', async () => {
    const { status, body } = await predict('tiny-digits', { pixels: pixelsFor(3) });
    expect(status, JSON.stringify(body)).toBe(200);
    expect(body).toMatchObject({ label: '3', model: 'tiny-digits', version: '1' });
    expect(Object.keys(body.scores)).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    expect(body.score).toBe(body.scores['3']);
    expect(body.score).toBeGreaterThan(0.9);
  });

  it('takes nested 28x28 pixels, and a batch in "inputs" mixing both forms', async () => {
    const nested = Array.from({ length: 28 }, (_, r) => pixelsFor(6).slice(r * 28, (r + 1) * 28));
    expect((await predict('tiny-digits', { pixels: nested })).body.label).toBe('6');
    const { status, body } = await predict('tiny-digits', { inputs: [{ pixels: pixelsFor(1) }, pixelsFor(2), { pixels: nested }] });
    expect(status, JSON.stringify(body)).toBe(200);
    expect(body.predictions.map((p: { label: string }) => p.label)).toEqual(['1', '2', '6']);
  });

  it('takes a base64 PNG or a data: URL, decoded and fitted on the server', async () => {
    // Black ink on white paper (a scan): the server inverts it to MNIST's white-on-black.
    const png = rectanglePng({ width: 56, height: 56, rect: { x: 20, y: 8, width: 12, height: 40 }, ink: [0, 0, 0, 255], background: [255, 255, 255, 255] });
    const { status, body } = await predict('tiny-digits', { image: png });
    expect(status, JSON.stringify(body)).toBe(200);
    expect(body.label).toMatch(/^\d$/);
    const viaUrl = await predict('tiny-digits', { image: `data:image/png;base64,${png}` });
    expect(viaUrl.body.scores).toEqual(body.scores);
    const batch = await predict('tiny-digits', { inputs: [{ image: png }, png] });
    expect(batch.body.predictions).toHaveLength(2);
  });

  it('refuses bad pixels with 400 naming the field', async () => {
    expectError(await predict('tiny-digits', { pixels: pixelsFor(3).slice(1) }), 400, /"pixels" has 783 values; expected 784/);
    expectError(await predict('tiny-digits', { pixels: pixelsFor(3).map((v) => v * 255) }), 400, /"pixels" value \d+ is 255; pixels must be in 0\.\.1/);
    expectError(await predict('tiny-digits', { pixels: ['a', ...pixelsFor(3).slice(1)] }), 400, /"pixels" value 0 must be a number/);
    expectError(await predict('tiny-digits', { pixels: 'nope' }), 400, /"pixels" must be an array/);
    expectError(await predict('tiny-digits', { inputs: [pixelsFor(1), pixelsFor(1).slice(2)] }), 400, /"inputs\[1\]" has 782 values/);
  });

  it('refuses undecodable images with 400 naming the field', async () => {
    expectError(await predict('tiny-digits', { image: 'not base64 at all!' }), 400, /"image" is not base64/);
    expectError(await predict('tiny-digits', { image: Buffer.from('GIF89a....').toString('base64') }), 400, /"image" is not a PNG/);
    const truncated = Buffer.from(rectanglePng({ width: 8, height: 8, rect: { x: 2, y: 2, width: 3, height: 3 }, ink: [255, 255, 255, 255], background: [0, 0, 0, 255] }), 'base64').subarray(0, 40);
    expectError(await predict('tiny-digits', { inputs: [{ image: truncated.toString('base64') }] }), 400, /"inputs\[0\]\.image" could not be decoded as PNG/);
    expectError(await predict('tiny-digits', { image: 42 }), 400, /"image" must be a base64 PNG/);
  });

  it('refuses empty, ambiguous and oversized requests', async () => {
    expectError(await predict('tiny-digits', {}), 400, /missing field "pixels" or "image"/);
    expectError(await predict('tiny-digits', { pixels: pixelsFor(1), image: 'x' }), 400, /either "pixels" or "image"/);
    expectError(await predict('tiny-digits', { inputs: [] }), 400, /"inputs" must not be empty/);
    expectError(await predict('tiny-digits', { inputs: Array.from({ length: 5 }, () => pixelsFor(1)) }), 400, /5 items; at most 4/);
  });
});

describe('tabular-regression JSON API', () => {
  const row = { a: 14, b: 0.5, c: 2 };

  it('takes named features in any order and answers value, unit and target from the spec', async () => {
    const { status, body } = await predict('tiny-air', { features: { c: row.c, a: row.a, b: row.b } });
    expect(status, JSON.stringify(body)).toBe(200);
    expect(body).toMatchObject({ unit: 'µg/m^3', target: 'benzene', model: 'tiny-air', version: '1' });
    expect(body.value).toBeCloseTo(tinyTabularExpected(row), 3);
  });

  it('takes a batch in "rows"', async () => {
    const other = { a: 10, b: -1, c: 0 };
    const { body } = await predict('tiny-air', { rows: [row, other] });
    expect(body.predictions).toHaveLength(2);
    expect(body.predictions[1].value).toBeCloseTo(tinyTabularExpected(other), 3);
  });

  it('names every missing, unknown and non-numeric feature in one 400', async () => {
    expectError(await predict('tiny-air', { features: { a: 1 } }), 400, /"features": missing features "b", "c".*expected: a \[mg\/m\^3\], b \[°C\], c \[%\]/);
    expectError(await predict('tiny-air', { features: { ...row, d: 4, e: 5 } }), 400, /unknown features "d", "e"/);
    expectError(await predict('tiny-air', { features: { ...row, b: '3' } }), 400, /feature "b" must be a finite number/);
    expectError(await predict('tiny-air', { features: { ...row, c: null } }), 400, /feature "c" must be a finite number/);
    expectError(await predict('tiny-air', { rows: [row, { ...row, a: undefined }] }), 400, /"rows\[1\]": missing feature "a"/);
  });

  it('refuses malformed bodies with 400', async () => {
    expectError(await predict('tiny-air', {}), 400, /missing field "features"/);
    expectError(await predict('tiny-air', { features: [1, 2, 3] }), 400, /"features" must be an object/);
    expectError(await predict('tiny-air', { rows: {} }), 400, /"rows" must be an array/);
    expectError(await predict('tiny-air', { rows: Array.from({ length: 5 }, () => row) }), 400, /5 items; at most 4/);
  });

  it('exports the predicted values as vigil_prediction_value', async () => {
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toMatch(/vigil_prediction_value_count\{model="tiny-air",version="1"\} [1-9]/);
    expect(metrics).toContain('# TYPE vigil_prediction_value histogram');
  });

  it('describes both models in /v1/models', async () => {
    const { body } = await getJson(`${server.url}/v1/models/tiny-air`);
    expect(body.task).toBe('tabular-regression');
    expect(body.state).toBe('ready');
  });
});
