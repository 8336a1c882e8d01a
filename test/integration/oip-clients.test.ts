import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpRequest, rawRequest, type RawResponse } from '../helpers/exact-request.js';
import { startVigil, type VigilProcess } from '../helpers/server.js';

/**
 * The Open Inference Protocol REST API as the two most common Python clients speak it, byte for
 * byte, over a real socket to the real server (no HTTP library in between to add a header):
 *
 * - tritonclient.http (tritonclient/http/_utils.py `_get_inference_request`, `_client.py`): the
 *   body is python-rapidjson's `dumps` (compact, non-ASCII escaped as \uXXXX, floats of FP32
 *   numpy values written as Python floats), POSTed by geventhttpclient with User-Agent, Host and
 *   Content-Length and no Content-Type. Requested outputs carry `"parameters": {"binary_data":
 *   false}`; with none named, the request asks for `"binary_data_output": true`. load_model posts
 *   `{}` and unload_model `{"parameters": {"unload_dependents": false}}`, also without a type.
 * - KServe's InferenceRESTClient (kserve/inference_client.py, protocol/infer_type.py `to_rest`):
 *   orjson's compact body with a uuid `id` and `model_name`, POSTed by httpx with `content=`,
 *   so Host, Accept, Accept-Encoding, Connection, User-Agent and Content-Length, and no
 *   Content-Type.
 *
 * Every answer must be the JSON a declared application/json request gets, except where the
 * request asks for binary outputs (the binary tensor extension: test/integration/oip-binary.test.ts).
 */

const TOKEN = 'clients-admin-token';
let server: VigilProcess;
let host: string;

beforeAll(async () => {
  server = await startVigil(['--no-embedded', '--model', 'models/sentiment', '--model', 'models/air-quality', '--model', 'models/spam'], { VIGIL_ADMIN_TOKEN: TOKEN });
  host = new URL(server.url).host;
  await server.waitUntilReady();
});

afterAll(async () => {
  await server?.stop();
});

/** python-rapidjson's dumps with its defaults: compact, ensure_ascii. */
function rapidjsonDumps(value: unknown): string {
  return JSON.stringify(value).replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** A float32 numpy value's `.item()` as Python writes it: the double's shortest digits, `.0` when whole. */
const pythonFloat = (x: number): string => {
  const value = Math.fround(x);
  return Number.isInteger(value) ? value.toFixed(1) : String(value);
};

const tritonHeaders = (): [string, string][] => [
  ['User-Agent', 'python/gevent-http-client-2.3.1'],
  ['Host', host],
];
const tritonPost = (path: string, body: string, extra: [string, string][] = []) => rawRequest(server.url, httpRequest('POST', path, [...tritonHeaders(), ...extra], body));
const tritonGet = (path: string) => rawRequest(server.url, httpRequest('GET', path, tritonHeaders()));

const httpxHeaders = (): [string, string][] => [
  ['Host', host],
  ['Accept', '*/*'],
  ['Accept-Encoding', 'gzip, deflate'],
  ['Connection', 'keep-alive'],
  ['User-Agent', 'python-httpx/0.28.1'],
];

/** The same body, declared as application/json: what every undeclared request must equal. */
async function declaredJson(path: string, body: string): Promise<any> {
  const response = await fetch(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  expect(response.status).toBe(200);
  return response.json();
}

function expectJsonOk(response: RawResponse): any {
  expect(response.status, response.text).toBe(200);
  expect(response.headers['content-type']).toMatch(/^application\/json/);
  // A JSON answer, not the binary extension's (tritonclient reads it whole when this is absent).
  expect(response.headers['inference-header-content-length']).toBeUndefined();
  return response.json();
}

describe('tritonclient.http', () => {
  it('checks liveness, model readiness and metadata', async () => {
    expect(expectJsonOk(await tritonGet('/v2/health/live'))).toEqual({ live: true });
    expect(expectJsonOk(await tritonGet('/v2/models/sentiment/ready'))).toEqual({ name: 'sentiment', ready: true });
    const metadata = expectJsonOk(await tritonGet('/v2/models/sentiment'));
    expect(metadata.inputs).toEqual([{ name: 'text', datatype: 'BYTES', shape: [-1] }]);
  });

  it('infers with named outputs, each {"binary_data": false}, and no Content-Type', async () => {
    const texts = ['I love this wonderful café', 'Terrible movie, a waste of time'];
    const body = rapidjsonDumps({
      id: 'triton-1',
      inputs: [{ name: 'text', shape: [2], datatype: 'BYTES', data: texts }],
      outputs: [
        { name: 'label', parameters: { binary_data: false } },
        { name: 'probabilities', parameters: { binary_data: false } },
      ],
    });
    expect(body).toContain('caf\\u00e9'); // the bytes rapidjson writes, not UTF-8
    const response = await tritonPost('/v2/models/sentiment/infer', body);
    const answer = expectJsonOk(response);
    expect(answer).toMatchObject({ model_name: 'sentiment', model_version: '1', id: 'triton-1' });
    expect(answer.outputs.map((o: any) => o.name)).toEqual(['label', 'probabilities']);
    expect(answer.outputs[0]).toEqual({ name: 'label', datatype: 'BYTES', shape: [2], data: ['POSITIVE', 'NEGATIVE'] });
    expect(answer.outputs[1]).toMatchObject({ name: 'probabilities', datatype: 'FP32', shape: [2, 2] });
    expect(answer).toEqual(await declaredJson('/v2/models/sentiment/infer', body));
  });

  it('infers with no outputs named ("binary_data_output": true) and gets every output as binary tensors', async () => {
    const body = rapidjsonDumps({ inputs: [{ name: 'text', shape: [1], datatype: 'BYTES', data: ['What a great day'] }], parameters: { binary_data_output: true } });
    const response = await tritonPost('/v2/models/sentiment/infer', body);
    expect(response.status, response.text).toBe(200);
    expect(response.headers['content-type']).toBe('application/octet-stream');
    // The binary tensor extension's answer: a JSON header of the announced length, then each
    // output's bytes in order (read here by hand, from the extension's description).
    const jsonLength = Number(response.headers['inference-header-content-length']);
    const head = JSON.parse(response.body.subarray(0, jsonLength).toString('utf8'));
    expect(head.outputs.map((o: any) => [o.name, o.datatype, o.shape, o.data])).toEqual([
      ['label', 'BYTES', [1], undefined],
      ['probabilities', 'FP32', [1, 2], undefined],
    ]);
    const [labelSize, probabilitiesSize] = head.outputs.map((o: any) => o.parameters.binary_data_size);
    expect(jsonLength + labelSize + probabilitiesSize).toBe(response.body.length);
    const label = response.body.subarray(jsonLength, jsonLength + labelSize);
    expect(label.readUInt32LE(0)).toBe(8);
    expect(label.subarray(4).toString()).toBe('POSITIVE');
    expect(probabilitiesSize).toBe(8);
    const json = await declaredJson('/v2/models/sentiment/infer', JSON.stringify({ inputs: [{ name: 'text', shape: [1], datatype: 'BYTES', data: ['What a great day'] }] }));
    const scores = response.body.subarray(jsonLength + labelSize);
    expect([scores.readFloatLE(0), scores.readFloatLE(4)]).toEqual(json.outputs[1].data.map((v: number) => Math.fround(v)));
  });

  it('sends FP32 features as Python floats to a versioned URL and gets the same prediction', async () => {
    const reading = [1360, 1046, 1056, 1692, 1268, 13.6, 48.9, 0.7578, 18, 2];
    const data = `[${reading.map(pythonFloat).join(',')}]`;
    expect(data).toContain('13.600000381469727'); // float32 13.6, as numpy hands it to Python
    const body = `{"inputs":[{"name":"features","shape":[1,10],"datatype":"FP32","data":${data}}],"outputs":[{"name":"prediction","parameters":{"binary_data":false}}]}`;
    const answer = expectJsonOk(await tritonPost('/v2/models/air-quality/versions/1/infer', body));
    expect(answer.outputs).toHaveLength(1);
    expect(answer.outputs[0]).toMatchObject({ name: 'prediction', datatype: 'FP32', shape: [1, 1] });
    expect(answer.outputs[0].data[0]).toBeGreaterThan(0);
    expect(answer).toEqual(await declaredJson('/v2/models/air-quality/versions/1/infer', body));
  });

  it('loads and unloads through the repository extension with the bodies load_model and unload_model post', async () => {
    const auth: [string, string] = ['Authorization', `Bearer ${TOKEN}`];
    const unloaded = await tritonPost('/v2/repository/models/spam/unload', '{"parameters":{"unload_dependents":false}}', [auth]);
    expect(expectJsonOk(unloaded)).toEqual({});
    expect((await tritonGet('/v2/models/spam/ready')).status).not.toBe(200);
    const loaded = await tritonPost('/v2/repository/models/spam/load', '{}', [auth]);
    expect(expectJsonOk(loaded)).toEqual({});
    expect(expectJsonOk(await tritonGet('/v2/models/spam/ready'))).toEqual({ name: 'spam', ready: true });
    // The index, posted without a body at all.
    const index = expectJsonOk(await rawRequest(server.url, httpRequest('POST', '/v2/repository/index', [...tritonHeaders(), auth, ['Content-Length', '0']])));
    expect(index).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'spam', state: 'READY' })]));
  });
});

describe("KServe's InferenceRESTClient", () => {
  it('infers with its orjson body (uuid id, model_name) and httpx headers, no Content-Type', async () => {
    const id = '3b4f1c9e-8d2a-4e5f-9a6b-7c8d9e0f1a2b';
    const body = JSON.stringify({
      id,
      model_name: 'sentiment',
      inputs: [{ name: 'text', shape: [2], datatype: 'BYTES', data: ['I love this', 'Terrible movie'] }],
      outputs: [{ name: 'label', parameters: { binary_data: false } }],
    });
    const response = await rawRequest(server.url, httpRequest('POST', '/v2/models/sentiment/infer', httpxHeaders(), body));
    const answer = expectJsonOk(response);
    expect(answer).toEqual({ model_name: 'sentiment', model_version: '1', id, outputs: [{ name: 'label', datatype: 'BYTES', shape: [2], data: ['POSITIVE', 'NEGATIVE'] }] });
  });

  it('takes JSON sent as application/octet-stream when no binary part is announced', async () => {
    const body = JSON.stringify({ inputs: [{ name: 'text', shape: [1], datatype: 'BYTES', data: ['I love this'] }] });
    const answer = expectJsonOk(await rawRequest(server.url, httpRequest('POST', '/v2/models/sentiment/infer', [...httpxHeaders(), ['content-type', 'application/octet-stream']], body)));
    expect(answer.outputs[0].data).toEqual(['POSITIVE']);
  });

  it('takes binary tensors when Inference-Header-Content-Length is sent, and answers JSON unless asked otherwise', async () => {
    const json = JSON.stringify({ inputs: [{ name: 'text', shape: [1], datatype: 'BYTES', parameters: { binary_data_size: 15 } }] });
    const body = `${json}\u000b\u0000\u0000\u0000I love this`;
    const response = await rawRequest(
      server.url,
      httpRequest('POST', '/v2/models/sentiment/infer', [...httpxHeaders(), ['inference-header-content-length', String(json.length)], ['content-type', 'application/octet-stream']], body),
    );
    const answer = expectJsonOk(response);
    expect(answer.outputs[0]).toEqual({ name: 'label', datatype: 'BYTES', shape: [1], data: ['POSITIVE'] });
  });
});

describe('the rest of the contract over a real socket', () => {
  it('refuses a declared non-JSON body with 415 on the OIP and JSON APIs', async () => {
    const oip = await rawRequest(server.url, httpRequest('POST', '/v2/models/sentiment/infer', [['Host', host], ['Content-Type', 'text/plain']], '{"inputs": []}'));
    expect(oip.status).toBe(415);
    expect(oip.json()).toEqual({ error: expect.stringMatching(/unsupported Content-Type "text\/plain"/) });
    const predict = await rawRequest(server.url, httpRequest('POST', '/predict', [['Host', host], ['Content-Type', 'text/plain']], '{"text": "hi"}'));
    expect(predict.status).toBe(415);
    expect(predict.json().error).toMatchObject({ code: 'unsupported_media_type', message: expect.stringMatching(/text\/plain.*application\/json/) });
  });

  it('answers a wrong method on a known path with 405 and Allow', async () => {
    const infer = await rawRequest(server.url, httpRequest('GET', '/v2/models/sentiment/infer', [['Host', host]]));
    expect(infer.status).toBe(405);
    expect(infer.headers.allow).toBe('POST');
    expect(infer.json()).toEqual({ error: expect.stringMatching(/does not answer GET/) });
    const ready = await rawRequest(server.url, httpRequest('DELETE', '/ready', [['Host', host]]));
    expect(ready.status).toBe(405);
    expect(ready.headers.allow).toBe('GET, HEAD');
    expect(ready.json().error.code).toBe('method_not_allowed');
    const unknown = await rawRequest(server.url, httpRequest('GET', '/v2/nothing-here', [['Host', host]]));
    expect(unknown.status).toBe(404);
  });
});
