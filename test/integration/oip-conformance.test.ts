import { existsSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getJson, postJson, REPO_ROOT, startVigil, type VigilProcess } from '../helpers/server.js';
import { pixelsFor, tempModelsDir, tinyTabularExpected, writeTinyDigits, writeTinyTabular } from '../helpers/tiny-models.js';

/**
 * The Open Inference Protocol (KServe V2) REST surface against the real server, walking the
 * compliance checklist of docs/references/serving-systems.md §2.6 for one model per task:
 * text (the embedded sentiment model), image (tiny digit graphs, flat and NCHW) and tabular (a
 * tiny regression graph served in two numbered versions), plus the model repository extension
 * behind an admin token.
 */

/** The trained image and tabular models, once they are in the checkout (they are committed by training). */
const TRAINED = ['digits', 'air-quality'].filter((m) => existsSync(path.join(REPO_ROOT, 'models', m)));

const TOKEN = 'conformance-admin-token';
const admin = { authorization: `Bearer ${TOKEN}` };

let server: VigilProcess;
let dir: string;
let base: string;

const get = (p: string) => getJson(`${base}${p}`);
const post = (p: string, body: unknown, headers: Record<string, string> = {}) => postJson(`${base}${p}`, body, headers);
/** The server's log so far: log lines reach stdout in chunks, so wait for the line of a request made now. */
async function logsUntilNow(): Promise<string[]> {
  const id = (await get('/v2/health/live')).headers.get('x-request-id');
  await server.waitForLog(new RegExp(`"request_id":"${id}"`));
  return server.logs;
}
const infer = (model: string, body: unknown) => post(`/v2/models/${model}/infer`, body);

/** Every /v2 error: a 4xx/5xx status, JSON content type, and `{"error": "<message>"}` only. */
function expectOipError(response: { status: number; body: any; headers: Headers }, status: number, mentions?: RegExp): void {
  expect(response.status, JSON.stringify(response.body)).toBe(status);
  expect(response.headers.get('content-type')).toMatch(/^application\/json/);
  expect(Object.keys(response.body)).toEqual(['error']);
  expect(typeof response.body.error).toBe('string');
  if (mentions) expect(response.body.error).toMatch(mentions);
}

const row = { a: 12, b: 1.5, c: -0.25 };
const tabularRequest = (rows: (typeof row)[]) => ({
  inputs: [{ name: 'features', shape: [rows.length, 3], datatype: 'FP32', data: rows.map((r) => [r.a, r.b, r.c]) }],
});

beforeAll(async () => {
  dir = tempModelsDir('vigil-oip-');
  writeTinyDigits(path.join(dir, 'tiny-digits'));
  writeTinyDigits(path.join(dir, 'tiny-digits-nchw'), 'tiny-digits-nchw', 'nchw');
  // A queue of 2: a request of 3 rows can never be admitted (overload path).
  writeTinyDigits(path.join(dir, 'tiny-digits-q2'), 'tiny-digits-q2', 'flat', { batching: { maxQueue: 2 } });
  writeTinyTabular(path.join(dir, 'tiny-air', '1'), 'tiny-air', '1', 1);
  writeTinyTabular(path.join(dir, 'tiny-air', '2'), 'tiny-air', '2', 2);
  server = await startVigil(
    [
      '--no-embedded',
      '--model', 'models/sentiment',
      ...TRAINED.flatMap((m) => ['--model', `models/${m}`]),
      '--model', path.join(dir, 'tiny-digits'),
      '--model', path.join(dir, 'tiny-digits-nchw'),
      '--model', path.join(dir, 'tiny-digits-q2'),
      '--model', path.join(dir, 'tiny-air'),
      '--max-batch-inputs', '8',
    ],
    { VIGIL_ADMIN_TOKEN: TOKEN },
  );
  base = server.url;
  await server.waitUntilReady();
});

afterAll(async () => {
  await server?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('health and server metadata (§2.6 items 1, 2, 4, 14)', () => {
  it('GET /v2/health/live answers {"live": true} as JSON', async () => {
    const response = await get('/v2/health/live');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(response.body).toEqual({ live: true });
  });

  it('GET /v2/health/ready answers {"ready": true} once every model is loaded', async () => {
    const response = await get('/v2/health/ready');
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ ready: true });
  });

  it('GET /v2 gives name, version and extensions', async () => {
    const response = await get('/v2');
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ name: 'vigil', version: expect.stringMatching(/^\d+\.\d+\.\d+/), extensions: ['model_repository', 'classification', 'binary_tensor_data'] });
  });

  it('unknown /v2 paths answer 404 {"error"}', async () => {
    expectOipError(await get('/v2/nothing/here'), 404);
  });
});

describe('model readiness (§2.6 item 3)', () => {
  it('answers {"name","ready"} for a model and for one of its versions', async () => {
    for (const p of ['/v2/models/sentiment/ready', '/v2/models/tiny-air/ready', '/v2/models/tiny-air/versions/1/ready', '/v2/models/tiny-air/versions/2/ready']) {
      const response = await get(p);
      expect(response.status, p).toBe(200);
      expect(response.body).toEqual({ name: p.split('/')[3], ready: true });
    }
  });

  it('unknown model or version: 404 {"error"} naming it', async () => {
    expectOipError(await get('/v2/models/nope/ready'), 404, /"nope"/);
    expectOipError(await get('/v2/models/tiny-air/versions/9/ready'), 404, /"9"/);
  });
});

describe('model metadata (§2.6 items 5, 11)', () => {
  it('text: BYTES text in, label and probabilities out', async () => {
    const { status, body } = await get('/v2/models/sentiment');
    expect(status).toBe(200);
    expect(body).toMatchObject({
      name: 'sentiment',
      versions: ['1'],
      platform: 'onnx_onnxv1',
      inputs: [{ name: 'text', datatype: 'BYTES', shape: [-1] }],
      outputs: [
        { name: 'label', datatype: 'BYTES', shape: [-1] },
        { name: 'probabilities', datatype: 'FP32', shape: [-1, 2] },
      ],
    });
    expect(body.properties.labels).toBe('NEGATIVE,POSITIVE');
  });

  it('image: FP32 pixels [-1,784]', async () => {
    const { body } = await get('/v2/models/tiny-digits');
    expect(body.inputs).toEqual([{ name: 'pixels', datatype: 'FP32', shape: [-1, 784] }]);
    expect(body.outputs).toEqual([
      { name: 'label', datatype: 'BYTES', shape: [-1] },
      { name: 'probabilities', datatype: 'FP32', shape: [-1, 10] },
    ]);
  });

  it('tabular: FP32 features [-1,F] in the spec order (listed with units), value [-1,1] out; every version listed', async () => {
    const { body } = await get('/v2/models/tiny-air');
    expect(body).toMatchObject({
      name: 'tiny-air',
      versions: ['1', '2'],
      platform: 'onnx_onnxv1',
      inputs: [{ name: 'features', datatype: 'FP32', shape: [-1, 3] }],
      outputs: [{ name: 'value', datatype: 'FP32', shape: [-1, 1] }],
    });
    expect(body.properties).toMatchObject({ features: '["a","b","c"]', feature_units: '["mg/m^3","°C","%"]', target: 'benzene', target_unit: 'µg/m^3', version: '2' });
    const v1 = await get('/v2/models/tiny-air/versions/1');
    expect(v1.status).toBe(200);
    expect(v1.body.properties.version).toBe('1');
  });

  it('every served model (trained ones included) has conformant metadata, a sample answer and readiness', async () => {
    const { body: listing } = await get('/v1/models');
    const names: string[] = listing.models.map((m: { name: string }) => m.name);
    for (const trained of TRAINED) expect(names).toContain(trained);
    for (const name of names) {
      const { status, body } = await get(`/v2/models/${name}`);
      expect(status, name).toBe(200);
      expect(body.name).toBe(name);
      expect(body.platform).toBe('onnx_onnxv1');
      for (const tensor of [...body.inputs, ...body.outputs]) {
        expect(Object.keys(tensor).sort(), name).toEqual(['datatype', 'name', 'shape']);
        expect(tensor.shape[0], `${name}.${tensor.name}: the batch dimension is variable`).toBe(-1);
        for (const d of tensor.shape) expect(Number.isInteger(d) && (d === -1 || d > 0), `${name}.${tensor.name} shape`).toBe(true);
      }
      expect((await get(`/v2/models/${name}/ready`)).body).toEqual({ name, ready: true });
      // One row of zeros (or one string) per input, shaped from the metadata: the model must answer it.
      const inputs = body.inputs.map((t: { name: string; datatype: string; shape: number[] }) => {
        const shape = t.shape.map((d) => (d === -1 ? 1 : d));
        const size = shape.reduce((a, b) => a * b, 1);
        return { name: t.name, datatype: t.datatype, shape, data: Array.from({ length: size }, () => (t.datatype === 'BYTES' ? 'fine' : 0)) };
      });
      const answer = await infer(name, { inputs });
      expect(answer.status, `${name}: ${JSON.stringify(answer.body)}`).toBe(200);
      expect(answer.body.outputs.map((o: { name: string }) => o.name)).toEqual(body.outputs.map((o: { name: string }) => o.name));
      for (const output of answer.body.outputs) {
        const meta = body.outputs.find((o: { name: string }) => o.name === output.name);
        expect(output.datatype).toBe(meta.datatype);
        expect(output.shape.length).toBe(meta.shape.length);
        expect(output.data).toHaveLength(output.shape.reduce((a: number, b: number) => a * b, 1));
      }
    }
  });

  it('unknown model or version: 404', async () => {
    expectOipError(await get('/v2/models/nope'), 404);
    expectOipError(await get('/v2/models/tiny-air/versions/7'), 404);
  });
});

describe('inference: text (BYTES in, server tokenizes)', () => {
  it('returns every output when none are requested, with model_version and the echoed id', async () => {
    const { status, body, headers } = await infer('sentiment', {
      id: 'req-42',
      inputs: [{ name: 'text', shape: [2], datatype: 'BYTES', data: ['What a wonderful, moving film.', 'Dull, boring and far too long.'] }],
    });
    expect(status, JSON.stringify(body)).toBe(200);
    expect(headers.get('content-type')).toMatch(/^application\/json/);
    expect(body.model_name).toBe('sentiment');
    expect(body.model_version).toBe('1');
    expect(body.id).toBe('req-42');
    expect(body.outputs.map((o: { name: string }) => o.name)).toEqual(['label', 'probabilities']);
    const [label, probabilities] = body.outputs;
    expect(label).toEqual({ name: 'label', datatype: 'BYTES', shape: [2], data: ['POSITIVE', 'NEGATIVE'] });
    expect(probabilities.datatype).toBe('FP32');
    expect(probabilities.shape).toEqual([2, 2]);
    expect(probabilities.data).toHaveLength(4);
    for (const p of probabilities.data) expect(typeof p).toBe('number');
    expect(probabilities.data[0] + probabilities.data[1]).toBeCloseTo(1, 5);
  });

  it('omits id when the request has none', async () => {
    const { body } = await infer('sentiment', { inputs: [{ name: 'text', shape: [1], datatype: 'BYTES', data: ['fine'] }] });
    expect(body).not.toHaveProperty('id');
  });

  it('honours requested outputs, in request order, and ignores unknown output parameters', async () => {
    const { status, body } = await infer('sentiment', {
      inputs: [{ name: 'text', shape: [1, 1], datatype: 'BYTES', data: [['A delight.']] }],
      outputs: [{ name: 'probabilities', parameters: { binary_data: false } }, { name: 'label' }],
    });
    expect(status, JSON.stringify(body)).toBe(200);
    expect(body.outputs.map((o: { name: string }) => o.name)).toEqual(['probabilities', 'label']);
    const only = await infer('sentiment', { inputs: [{ name: 'text', shape: [1], datatype: 'BYTES', data: ['A delight.'] }], outputs: [{ name: 'label' }] });
    expect(only.body.outputs.map((o: { name: string }) => o.name)).toEqual(['label']);
  });

  it('classification extension: top-k "score:index:label" strings for probabilities', async () => {
    const { status, body } = await infer('sentiment', {
      inputs: [{ name: 'text', shape: [2], datatype: 'BYTES', data: ['What a wonderful, moving film.', 'Dull, boring and far too long.'] }],
      outputs: [{ name: 'probabilities', parameters: { classification: 1 } }, { name: 'label' }],
    });
    expect(status, JSON.stringify(body)).toBe(200);
    const [top, label] = body.outputs;
    expect(top.datatype).toBe('BYTES');
    expect(top.shape).toEqual([2, 1]);
    // "score:index:label", the score to 6 significant digits: a confident model's top score can print as 1.
    const entry = (text: string) => {
      const [score, index, name] = text.split(':');
      return { score: Number(score), index, name };
    };
    expect(entry(top.data[0])).toMatchObject({ index: '1', name: 'POSITIVE' });
    expect(entry(top.data[1])).toMatchObject({ index: '0', name: 'NEGATIVE' });
    for (const text of top.data) expect(entry(text).score, text).toSatisfy((s: number) => s > 0.5 && s <= 1);
    expect(label.data).toEqual(['POSITIVE', 'NEGATIVE']);
    const both = await infer('tiny-digits', { inputs: [{ name: 'pixels', shape: [1, 784], datatype: 'FP32', data: pixelsFor(4) }], outputs: [{ name: 'probabilities', parameters: { classification: 3 } }] });
    expect(both.body.outputs[0].shape).toEqual([1, 3]);
    expect(both.body.outputs[0].data[0]).toMatch(/:4:4$/);
    expectOipError(await infer('sentiment', { inputs: [{ name: 'text', shape: [1], datatype: 'BYTES', data: ['x'] }], outputs: [{ name: 'label', parameters: { classification: 1 } }] }), 400, /output "label" holds no class scores/);
    expectOipError(await infer('sentiment', { inputs: [{ name: 'text', shape: [1], datatype: 'BYTES', data: ['x'] }], outputs: [{ name: 'probabilities', parameters: { classification: 0 } }] }), 400, /"classification" must be a positive integer/);
  });

  it('takes the JSON API deadline header x-vigil-timeout-ms, and refuses a malformed one with 400', async () => {
    const body = { inputs: [{ name: 'text', shape: [1], datatype: 'BYTES', data: ['fine'] }] };
    expect((await post('/v2/models/sentiment/infer', body, { 'x-vigil-timeout-ms': '60000' })).status).toBe(200);
    expectOipError(await post('/v2/models/sentiment/infer', body, { 'x-vigil-timeout-ms': 'soon' }), 400, /x-vigil-timeout-ms/);
  });

  it('binary tensor requests whose lengths do not add up are refused with 400 naming the header or the input', async () => {
    const send = async (body: Buffer, length: string) => {
      const response = await fetch(`${base}/v2/models/sentiment/infer`, { method: 'POST', headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': length }, body });
      return { status: response.status, headers: response.headers, body: await response.json() };
    };
    expectOipError(await send(Buffer.from('{}'), '999'), 400, /Inference-Header-Content-Length is 999 but the body has only 2 bytes/);
    expectOipError(await send(Buffer.from('{}'), 'two'), 400, /Inference-Header-Content-Length must be .* a whole number/);
    const json = JSON.stringify({ inputs: [{ name: 'text', shape: [1], datatype: 'BYTES', parameters: { binary_data_size: 40 } }] });
    expectOipError(await send(Buffer.concat([Buffer.from(json), Buffer.from([3, 0, 0, 0]), Buffer.from('abc')]), String(json.length)), 400, /input "text": "binary_data_size" is 40 but only 7 bytes of the body remain/);
  });

  it('refuses an unknown output name, an empty text and a non-string element', async () => {
    expectOipError(await infer('sentiment', { inputs: [{ name: 'text', shape: [1], datatype: 'BYTES', data: ['x'] }], outputs: [{ name: 'logits' }] }), 400, /unknown output "logits"/);
    expectOipError(await infer('sentiment', { inputs: [{ name: 'text', shape: [1], datatype: 'BYTES', data: ['  '] }] }), 400, /"text".*data\[0\].*empty/);
    expectOipError(await infer('sentiment', { inputs: [{ name: 'text', shape: [1], datatype: 'BYTES', data: [5] }] }), 400, /"text".*data\[0\].*string/);
  });
});

describe('inference: image (FP32 pixels)', () => {
  it('flat data with shape [N,784]', async () => {
    const { status, body } = await infer('tiny-digits', {
      inputs: [{ name: 'pixels', shape: [2, 784], datatype: 'FP32', data: [...pixelsFor(3), ...pixelsFor(7)] }],
    });
    expect(status, JSON.stringify(body)).toBe(200);
    expect(body.outputs[0]).toEqual({ name: 'label', datatype: 'BYTES', shape: [2], data: ['3', '7'] });
    expect(body.outputs[1].shape).toEqual([2, 10]);
  });

  it('nested data with shape [N,1,28,28], to a flat graph and to an NCHW graph alike', async () => {
    const image = (digit: number) => [Array.from({ length: 28 }, (_, r) => pixelsFor(digit).slice(r * 28, (r + 1) * 28))];
    for (const model of ['tiny-digits', 'tiny-digits-nchw']) {
      const { status, body } = await infer(model, { inputs: [{ name: 'pixels', shape: [2, 1, 28, 28], datatype: 'FP32', data: [image(4), image(9)] }] });
      expect(status, `${model}: ${JSON.stringify(body)}`).toBe(200);
      expect(body.outputs[0].data).toEqual(['4', '9']);
    }
  });

  it('product(shape) != data length: 400 naming the input', async () => {
    expectOipError(await infer('tiny-digits', { inputs: [{ name: 'pixels', shape: [2, 784], datatype: 'FP32', data: pixelsFor(1) }] }), 400, /"pixels".*\[2,784\].*1568.*784/);
  });

  it('a shape the model does not take, a wrong datatype, values out of range: 400 naming the input', async () => {
    expectOipError(await infer('tiny-digits', { inputs: [{ name: 'pixels', shape: [1, 783], datatype: 'FP32', data: pixelsFor(1).slice(1) }] }), 400, /"pixels".*shape \[1,783\]/);
    expectOipError(await infer('tiny-digits', { inputs: [{ name: 'pixels', shape: [1, 784], datatype: 'INT64', data: pixelsFor(1) }] }), 400, /"pixels".*INT64.*FP32/);
    const bright = pixelsFor(1).map((v) => v * 255);
    expectOipError(await infer('tiny-digits', { inputs: [{ name: 'pixels', shape: [1, 784], datatype: 'FP32', data: bright }] }), 400, /"pixels".*outside 0\.\.1/);
    const strings = pixelsFor(1).map(String);
    expectOipError(await infer('tiny-digits', { inputs: [{ name: 'pixels', shape: [1, 784], datatype: 'FP32', data: strings }] }), 400, /"pixels".*data\[0\].*number/);
  });

  it('more rows than --max-batch-inputs: 400', async () => {
    const data = Array.from({ length: 9 }, () => pixelsFor(2)).flat();
    expectOipError(await infer('tiny-digits', { inputs: [{ name: 'pixels', shape: [9, 784], datatype: 'FP32', data }] }), 400, /9 rows.*at most 8/);
  });
});

describe('inference: tabular (FP32 features) and versions', () => {
  it('unversioned path: the newest version answers, with its model_version', async () => {
    const { status, body } = await infer('tiny-air', tabularRequest([row]));
    expect(status, JSON.stringify(body)).toBe(200);
    expect(body.model_version).toBe('2');
    expect(body.outputs).toHaveLength(1);
    expect(body.outputs[0]).toMatchObject({ name: 'value', datatype: 'FP32', shape: [1, 1] });
    expect(body.outputs[0].data[0]).toBeCloseTo(tinyTabularExpected(row, 2), 3);
  });

  it('versioned path: each version answers with its own weights', async () => {
    const rows = [row, { a: 8, b: 0, c: 1 }];
    const v1 = await post('/v2/models/tiny-air/versions/1/infer', tabularRequest(rows));
    expect(v1.status, JSON.stringify(v1.body)).toBe(200);
    expect(v1.body.model_version).toBe('1');
    expect(v1.body.outputs[0].shape).toEqual([2, 1]);
    expect(v1.body.outputs[0].data[0]).toBeCloseTo(tinyTabularExpected(rows[0]!, 1), 3);
    expect(v1.body.outputs[0].data[1]).toBeCloseTo(tinyTabularExpected(rows[1]!, 1), 3);
    const v2 = await post('/v2/models/tiny-air/versions/2/infer', tabularRequest(rows));
    expect(v2.body.outputs[0].data[1]).toBeCloseTo(tinyTabularExpected(rows[1]!, 2), 3);
  });

  it('unknown version: 404; wrong feature count: 400', async () => {
    expectOipError(await post('/v2/models/tiny-air/versions/3/infer', tabularRequest([row])), 404, /"3"/);
    expectOipError(await infer('tiny-air', { inputs: [{ name: 'features', shape: [1, 2], datatype: 'FP32', data: [1, 2] }] }), 400, /"features".*\[1,2\].*\[-1,3\]/);
  });
});

describe('malformed requests (§2.6 items 8, 9, 13)', () => {
  const good = { name: 'pixels', shape: [1, 784], datatype: 'FP32', data: pixelsFor(5) };

  it('non-JSON body: 400 (also as octet-stream, read as JSON); a declared text body: 415; all as {"error"}', async () => {
    expectOipError(await infer('tiny-digits', '{"inputs": [nope'), 400, /JSON/);
    expectOipError(await post('/v2/models/tiny-digits/infer', 'inputs=1', { 'content-type': 'text/plain' }), 415, /text\/plain.*application\/json/);
    expectOipError(await post('/v2/models/tiny-digits/infer', 'inputs=1', { 'content-type': 'application/x-www-form-urlencoded' }), 415, /application\/json/);
    expectOipError(await post('/v2/models/tiny-digits/infer', 'inputs=1', { 'content-type': 'application/octet-stream' }), 400, /not valid JSON/);
  });

  it('missing inputs, inputs not an array, empty inputs: 400', async () => {
    expectOipError(await infer('tiny-digits', {}), 400, /"inputs" is missing/);
    expectOipError(await infer('tiny-digits', { inputs: good }), 400, /"inputs" must be an array/);
    expectOipError(await infer('tiny-digits', { inputs: [] }), 400, /"inputs" must not be empty/);
    expectOipError(await infer('tiny-digits', [good]), 400, /JSON object/);
  });

  it('unknown input name, missing input, duplicated input: 400 naming it', async () => {
    expectOipError(await infer('tiny-digits', { inputs: [{ ...good, name: 'image' }] }), 400, /unknown input "image"/);
    expectOipError(await infer('tiny-digits', { inputs: [good, { ...good }] }), 400, /"pixels" is given twice/);
  });

  it('unknown datatype, missing shape/datatype/data, bad shape dims: 400 naming the input', async () => {
    expectOipError(await infer('tiny-digits', { inputs: [{ ...good, datatype: 'FLOAT32' }] }), 400, /"pixels".*unknown datatype "FLOAT32"/);
    expectOipError(await infer('tiny-digits', { inputs: [{ name: 'pixels', shape: [1, 784], data: good.data }] }), 400, /"pixels".*"datatype" is missing/);
    expectOipError(await infer('tiny-digits', { inputs: [{ name: 'pixels', datatype: 'FP32', data: good.data }] }), 400, /"pixels".*"shape" is missing/);
    expectOipError(await infer('tiny-digits', { inputs: [{ name: 'pixels', datatype: 'FP32', shape: [1, 784] }] }), 400, /"pixels".*"data" is missing/);
    expectOipError(await infer('tiny-digits', { inputs: [{ ...good, shape: [1, -784] }] }), 400, /"pixels".*shape\[1\]/);
    expectOipError(await infer('tiny-digits', { inputs: [{ ...good, data: [null] }] }), 400, /"pixels".*null/);
  });

  it('parameters: scalars accepted and ignored (binary_data too); objects refused with 400', async () => {
    const ok = await infer('tiny-digits', { parameters: { binary_data_output: false, priority: 1, tag: 'x' }, inputs: [{ ...good, parameters: { binary_data_size: 0 } }] });
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    expect(ok.body.outputs[0].data).toEqual(['5']);
    expectOipError(await infer('tiny-digits', { parameters: { nested: { a: 1 } }, inputs: [good] }), 400, /parameter "nested"/);
    expectOipError(await infer('tiny-digits', { inputs: [{ ...good, parameters: { list: [1] } }] }), 400, /input "pixels" parameter "list"/);
  });

  it('id must be a string; outputs must be named objects', async () => {
    expectOipError(await infer('tiny-digits', { id: 7, inputs: [good] }), 400, /"id"/);
    expectOipError(await infer('tiny-digits', { inputs: [good], outputs: ['label'] }), 400, /outputs\[0\]/);
  });

  it('overload (more rows than the queue admits): 503 with Retry-After, as {"error"}', async () => {
    const data = Array.from({ length: 3 }, () => pixelsFor(2)).flat();
    const response = await infer('tiny-digits-q2', { inputs: [{ name: 'pixels', shape: [3, 784], datatype: 'FP32', data }] });
    expectOipError(response, 503, /queue/);
    expect(Number(response.headers.get('retry-after'))).toBeGreaterThan(0);
  });

  it('unknown model: 404; body over the limit: 413', async () => {
    expectOipError(await infer('nope', { inputs: [good] }), 404, /"nope"/);
    const huge = { inputs: [{ name: 'text', shape: [1], datatype: 'BYTES', data: ['x'.repeat(1_100_000)] }] };
    // The server answers 413 from the content-length and closes the connection; a client still
    // writing the body may get EPIPE before it reads that answer (a race on a loaded machine),
    // so the request is sent again until the answer is read.
    let response: Awaited<ReturnType<typeof infer>> | undefined;
    for (let attempt = 0; attempt < 5 && !response; attempt++) response = await infer('sentiment', huge).catch(() => undefined);
    expect(response, 'never read an answer to the over-limit request').toBeDefined();
    expectOipError(response!, 413);
  });
});

describe('observability: OIP requests go through the same batcher and metrics as the JSON API', () => {
  it('counts predictions per model, regression values, and labels HTTP metrics with the route template', async () => {
    const text = await (await fetch(`${base}/metrics`)).text();
    expect(text).toMatch(/vigil_predictions_total\{model="tiny-digits",version="1",label="3"\} [1-9]/);
    expect(text).toMatch(/vigil_prediction_value_count\{model="tiny-air",version="2"\} [1-9]/);
    expect(text).toMatch(/vigil_inference_stage_duration_seconds_count\{model="tiny-digits",version="1",stage="queue"\} [1-9]/);
    expect(text).toContain('route="/v2/models/:name/infer"');
    expect(text).toContain('route="/v2/models/:name/versions/:version/infer"');
  });
});

describe('model repository extension (admin token)', () => {
  it('refuses without a token and with a wrong one (401, WWW-Authenticate), never echoing the token', async () => {
    const none = await post('/v2/repository/index', {});
    expectOipError(none, 401, /Authorization: Bearer/);
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
    const wrong = await post('/v2/repository/index', {}, { authorization: 'Bearer not-the-token' });
    expectOipError(wrong, 401, /wrong/);
    expectOipError(await post('/v2/repository/models/tiny-digits/unload', {}, { authorization: `Basic ${TOKEN}` }), 401);
    expect(server.logs.join('\n')).not.toContain(TOKEN);
  });

  it('index lists every version with its state; {"ready": true} filters; an empty body is fine', async () => {
    const { status, body } = await post('/v2/repository/index', {}, admin);
    expect(status).toBe(200);
    expect(body).toEqual(
      expect.arrayContaining([
        { name: 'sentiment', version: '1', state: 'READY', reason: '' },
        { name: 'tiny-air', version: '1', state: 'READY', reason: '' },
        { name: 'tiny-air', version: '2', state: 'READY', reason: '' },
        { name: 'tiny-digits', version: '1', state: 'READY', reason: '' },
      ]),
    );
    const empty = await fetch(`${base}/v2/repository/index`, { method: 'POST', headers: { ...admin, 'content-type': 'application/json' } });
    expect(empty.status).toBe(200);
    expectOipError(await post('/v2/repository/index', { ready: 'yes' }, admin), 400, /"ready"/);
  });

  it('unload drains and releases (idempotent); the model then answers 503 and is UNAVAILABLE, the server stays ready', async () => {
    const first = await post('/v2/repository/models/tiny-digits-nchw/unload', {}, admin);
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    expect(first.body).toEqual({});
    expect((await post('/v2/repository/models/tiny-digits-nchw/unload', {}, admin)).status).toBe(200);
    const ready = await get('/v2/models/tiny-digits-nchw/ready');
    expect(ready.status).toBe(503);
    expect(ready.body).toEqual({ name: 'tiny-digits-nchw', ready: false });
    expectOipError(await infer('tiny-digits-nchw', { inputs: [{ name: 'pixels', shape: [1, 784], datatype: 'FP32', data: pixelsFor(1) }] }), 503, /not ready/);
    const index = await post('/v2/repository/index', {}, admin);
    expect(index.body).toContainEqual({ name: 'tiny-digits-nchw', version: '1', state: 'UNAVAILABLE', reason: 'unloaded' });
    const readyOnly = await post('/v2/repository/index', { ready: true }, admin);
    expect(readyOnly.body.map((e: { name: string }) => e.name)).not.toContain('tiny-digits-nchw');
    expect((await get('/v2/health/ready')).status).toBe(200);
  });

  it('load brings it back (idempotent), and picks up a version added to the folder', async () => {
    const loaded = await post('/v2/repository/models/tiny-digits-nchw/load', {}, admin);
    expect(loaded.status, JSON.stringify(loaded.body)).toBe(200);
    expect((await get('/v2/models/tiny-digits-nchw/ready')).status).toBe(200);
    const again = await post('/v2/repository/models/tiny-digits-nchw/load', undefined, admin);
    expect(again.status, JSON.stringify(again.body)).toBe(200);
    const answer = await infer('tiny-digits-nchw', { inputs: [{ name: 'pixels', shape: [1, 784], datatype: 'FP32', data: pixelsFor(6) }] });
    expect(answer.body.outputs[0].data).toEqual(['6']);

    mkdirSync(path.join(dir, 'tiny-air', '3'));
    writeTinyTabular(path.join(dir, 'tiny-air', '3'), 'tiny-air', '3', 3);
    const withV3 = await post('/v2/repository/models/tiny-air/load', {}, admin);
    expect(withV3.status, JSON.stringify(withV3.body)).toBe(200);
    expect((await get('/v2/models/tiny-air')).body.versions).toEqual(['1', '2', '3']);
    const v3 = await post('/v2/models/tiny-air/versions/3/infer', tabularRequest([row]));
    expect(v3.body.outputs[0].data[0]).toBeCloseTo(tinyTabularExpected(row, 3), 3);
    // Unchanged versions kept running: tiny-air 1 and 2 were not reloaded, tiny-digits-nchw only once (after its unload).
    const logs = await logsUntilNow();
    const reloads = (model: string) => logs.filter((l) => l.includes(`"model":"${model}"`) && l.includes('model reloaded')).length;
    expect(reloads('tiny-air')).toBe(0);
    expect(reloads('tiny-digits-nchw')).toBe(1);
  });

  it('a changed version is swapped in without dropping a request in flight', async () => {
    // Version 1 gets new weights on disk (x4); requests keep flowing while it reloads.
    writeTinyTabular(path.join(dir, 'tiny-air', '1'), 'tiny-air', '1', 4);
    const during = Array.from({ length: 20 }, () => post('/v2/models/tiny-air/versions/1/infer', tabularRequest([row])));
    const reload = await post('/v2/repository/models/tiny-air/load', {}, admin);
    expect(reload.status, JSON.stringify(reload.body)).toBe(200);
    for (const response of await Promise.all(during)) expect(response.status, JSON.stringify(response.body)).toBe(200);
    const after = await post('/v2/models/tiny-air/versions/1/infer', tabularRequest([row]));
    expect(after.body.outputs[0].data[0]).toBeCloseTo(tinyTabularExpected(row, 4), 3);
    expect((await logsUntilNow()).some((l) => l.includes('"model":"tiny-air"') && l.includes('"version":"1"') && l.includes('model reloaded'))).toBe(true);
  });

  it('load or unload of a model the repository does not hold: 404', async () => {
    expectOipError(await post('/v2/repository/models/nope/load', {}, admin), 404);
    expectOipError(await post('/v2/repository/models/nope/unload', {}, admin), 404);
  });
});
