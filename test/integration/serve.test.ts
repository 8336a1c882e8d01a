import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getJson, postJson, startVigil, type VigilProcess } from '../helpers/server.js';
import { hasShared, requireShared, sharedPath } from '../helpers/shared.js';

/**
 * The foundation, end to end: the real CLI serving the embedded `sentiment` model (and, where
 * ../shared is present, the DistilBERT-architecture folder as a second model) over real HTTP.
 */
const withDistilbert = hasShared && requireShared('models/distilbert-arch-random/onnx/model_quantized.onnx', 'DistilBERT folder as a second model');
const DISTILBERT = 'distilbert-arch-random';

let server: VigilProcess;

beforeAll(async () => {
  const extra = withDistilbert ? ['--model', sharedPath('models', DISTILBERT)] : [];
  server = await startVigil([...extra, '--max-batch-inputs', '8', '--body-limit', '65536']);
  // Liveness answers before the models are ready: the listener comes up first.
  const alive = await getJson(`${server.url}/alive`);
  expect(alive.status).toBe(200);
  expect(alive.body.status).toBe('alive');
  await server.waitUntilReady();
});

afterAll(async () => {
  await server?.stop();
});

describe('health', () => {
  it('/ready lists every model as ready', async () => {
    const { status, body } = await getJson(`${server.url}/ready`);
    expect(status).toBe(200);
    expect(body.ready).toBe(true);
    const names = body.models.map((m: { name: string }) => m.name);
    expect(names).toContain('sentiment');
    if (withDistilbert) expect(names).toContain(DISTILBERT);
    for (const model of body.models.filter((m: { required: boolean }) => m.required)) expect(model.state).toBe('ready');
  });

  it('reports the remote model as unavailable without a token, and stays ready', async () => {
    const { status, body } = await getJson(`${server.url}/ready`);
    expect(status).toBe(200);
    const remote = body.models.find((m: { name: string }) => m.name === 'positive-thought');
    expect(remote).toMatchObject({ runtime: 'remote', state: 'unavailable', required: false });
    expect(remote.reason).toMatch(/HF_TOKEN/);
  });

  it('/health reports details, and ?deep=1 runs a real prediction per model', async () => {
    const shallow = await getJson(`${server.url}/health`);
    expect(shallow.status).toBe(200);
    expect(shallow.body).toMatchObject({ status: 'ok', ready: true });
    expect(shallow.body.checks).toBeUndefined();

    const deep = await getJson(`${server.url}/health?deep=1`);
    expect(deep.status).toBe(200);
    const sentiment = deep.body.checks.find((c: { name: string }) => c.name === 'sentiment');
    expect(sentiment.ok).toBe(true);
    expect(['POSITIVE', 'NEGATIVE']).toContain(sentiment.prediction.label);
  });
});

describe('models', () => {
  it('/v1/models lists the models with the default', async () => {
    const { status, body } = await getJson(`${server.url}/v1/models`);
    expect(status).toBe(200);
    expect(body.default).toBe('sentiment');
    const sentiment = body.models.find((m: { name: string }) => m.name === 'sentiment');
    expect(sentiment).toMatchObject({ task: 'text-classification', runtime: 'onnx', state: 'ready', labels: ['NEGATIVE', 'POSITIVE'] });
    expect(sentiment.signature.inputs.map((t: { name: string }) => t.name)).toEqual(['input_ids', 'attention_mask']);
    expect(sentiment.signature.outputs[0]).toMatchObject({ name: 'logits', datatype: 'FP32', shape: [-1, 2] });
    expect(sentiment.evaluation.metrics.accuracy).toBeGreaterThan(0.7);
  });

  it('/v1/models/{name} describes one model; an unknown one is a 404', async () => {
    const one = await getJson(`${server.url}/v1/models/sentiment`);
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({ name: 'sentiment', version: '1', versions: ['1'] });
    const missing = await getJson(`${server.url}/v1/models/no-such-model`);
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('model_not_found');
    expect(missing.body.error.message).toContain('no-such-model');
  });
});

describe('predict', () => {
  it('POST /predict classifies one text with the default model', async () => {
    const { status, body, headers } = await postJson(`${server.url}/predict`, { text: 'I am so happy today!' });
    expect(status).toBe(200);
    expect(body.label).toBe('POSITIVE');
    expect(body.score).toBeGreaterThan(0.5);
    expect(body.score).toBe(body.scores.POSITIVE);
    expect(body.scores.NEGATIVE + body.scores.POSITIVE).toBeCloseTo(1, 6);
    expect(body).toMatchObject({ model: 'sentiment', version: '1', truncated: false });
    expect(body.request_id).toBe(headers.get('x-request-id'));
  });

  it('says NEGATIVE for a clearly negative text', async () => {
    const { body } = await postJson(`${server.url}/v1/models/sentiment/predict`, { text: 'This is the worst day ever.' });
    expect(body.label).toBe('NEGATIVE');
  });

  it('answers a batch in order, each text with its own result', async () => {
    const texts = ['I am so happy today!', 'This is the worst day ever.', 'I am so happy today!'];
    const { status, body } = await postJson(`${server.url}/v1/models/sentiment/predict`, { texts });
    expect(status).toBe(200);
    expect(body.predictions).toHaveLength(3);
    expect(body.predictions.map((p: { label: string }) => p.label)).toEqual(['POSITIVE', 'NEGATIVE', 'POSITIVE']);
    // The same text gives the same scores whether or not it shares a padded batch.
    expect(body.predictions[0].scores.POSITIVE).toBeCloseTo(body.predictions[2].scores.POSITIVE, 5);
    const single = await postJson(`${server.url}/predict`, { text: texts[1] });
    expect(single.body.scores.NEGATIVE).toBeCloseTo(body.predictions[1].scores.NEGATIVE, 5);
  });

  it('serves a versioned path', async () => {
    const { status, body } = await postJson(`${server.url}/v1/models/sentiment/versions/1/predict`, { text: 'great' });
    expect(status).toBe(200);
    expect(body.version).toBe('1');
    const missing = await postJson(`${server.url}/v1/models/sentiment/versions/9/predict`, { text: 'great' });
    expect(missing.status).toBe(404);
  });

  it('uses a client request id when it is safe, and makes one otherwise', async () => {
    const chosen = await postJson(`${server.url}/predict`, { text: 'fine' }, { 'x-request-id': 'client-abc.123' });
    expect(chosen.body.request_id).toBe('client-abc.123');
    const unsafe = await postJson(`${server.url}/predict`, { text: 'fine' }, { 'x-request-id': 'bad id\twith spaces' });
    expect(unsafe.body.request_id).not.toContain(' ');
    expect(unsafe.body.request_id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('cuts very long text to the model maximum and says so', async () => {
    const text = 'wonderful '.repeat(2000);
    const { status, body } = await postJson(`${server.url}/predict`, { text });
    expect(status).toBe(200);
    expect(body.truncated).toBe(true);
    expect(body.label).toBe('POSITIVE');
  });

  it.skipIf(!withDistilbert)('serves the Hugging Face folder as a second model with its labels and shape', async () => {
    const described = await getJson(`${server.url}/v1/models/${DISTILBERT}`);
    expect(described.body.labels).toEqual(['NEGATIVE', 'POSITIVE']);
    expect(described.body.signature.outputs[0]).toMatchObject({ name: 'logits', datatype: 'FP32' });
    const { status, body } = await postJson(`${server.url}/v1/models/${DISTILBERT}/predict`, {
      texts: ['Hello world', 'A much longer sentence that needs more tokens than the first one does.'],
    });
    expect(status).toBe(200);
    expect(body.model).toBe(DISTILBERT);
    for (const p of body.predictions) {
      expect(Object.keys(p.scores).sort()).toEqual(['NEGATIVE', 'POSITIVE']);
      expect(p.scores.NEGATIVE + p.scores.POSITIVE).toBeCloseTo(1, 5);
      expect(p.label).toBe(p.scores.POSITIVE > p.scores.NEGATIVE ? 'POSITIVE' : 'NEGATIVE');
    }
  });
});

describe('bad input is a clear 4xx, never a 500', () => {
  const cases: { name: string; body: string; headers?: Record<string, string>; status: number; code: string; mentions: string }[] = [
    { name: 'malformed JSON', body: '{"text": ', status: 400, code: 'invalid_json', mentions: 'JSON' },
    { name: 'missing text', body: '{"txt": "hi"}', status: 400, code: 'invalid_input', mentions: '"text"' },
    { name: 'non-string text', body: '{"text": 42}', status: 400, code: 'invalid_input', mentions: 'string' },
    { name: 'null text', body: '{"text": null}', status: 400, code: 'invalid_input', mentions: 'null' },
    { name: 'empty text', body: '{"text": "   "}', status: 400, code: 'invalid_input', mentions: 'empty' },
    { name: 'texts not an array', body: '{"texts": "hi"}', status: 400, code: 'invalid_input', mentions: '"texts"' },
    { name: 'a non-string in texts', body: '{"texts": ["ok", 3]}', status: 400, code: 'invalid_input', mentions: 'texts[1]' },
    { name: 'empty batch', body: '{"texts": []}', status: 400, code: 'invalid_input', mentions: 'empty' },
    { name: 'both text and texts', body: '{"text": "a", "texts": ["b"]}', status: 400, code: 'invalid_input', mentions: 'either' },
    { name: 'too many texts', body: JSON.stringify({ texts: Array(9).fill('hi') }), status: 400, code: 'too_many_inputs', mentions: 'at most 8' },
    { name: 'a JSON array body', body: '["hi"]', status: 400, code: 'invalid_input', mentions: 'JSON object' },
    { name: 'body over the limit', body: JSON.stringify({ text: 'a'.repeat(70_000) }), status: 413, code: 'payload_too_large', mentions: 'large' },
    { name: 'wrong content type', body: 'text=hi', headers: { 'content-type': 'application/x-www-form-urlencoded' }, status: 415, code: 'unsupported_media_type', mentions: 'Content-Type' },
  ];

  for (const c of cases) {
    it(c.name, async () => {
      const { status, body } = await postJson(`${server.url}/predict`, c.body, c.headers);
      expect(status).toBe(c.status);
      expect(body.error.code).toBe(c.code);
      expect(body.error.message.toLowerCase()).toContain(c.mentions.toLowerCase());
    });
  }

  it('an unknown model is a 404 naming it', async () => {
    const { status, body } = await postJson(`${server.url}/v1/models/nope/predict`, { text: 'hi' });
    expect(status).toBe(404);
    expect(body.error).toMatchObject({ code: 'model_not_found' });
    expect(body.error.message).toContain('nope');
  });

  it('an unknown route is a JSON 404', async () => {
    const { status, body } = await getJson(`${server.url}/no/such/path?x=1`);
    expect(status).toBe(404);
    expect(body.error.code).toBe('not_found');
  });

  it('no request above produced a 5xx (readiness 503 while loading aside)', async () => {
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    const serverErrors = metrics
      .split('\n')
      .filter((l) => /^http_requests_total\{[^}]*status="5\d\d"/.test(l) && !l.includes('route="/ready"'));
    // The request path's 5xx series exist from the start, at 0, so alerts see the first ones.
    expect(serverErrors).toContain('http_requests_total{method="POST",route="/v2/models/:name/infer",status="503"} 0');
    expect(serverErrors.filter((l) => !l.endsWith(' 0'))).toEqual([]);
  });
});

describe('metrics', () => {
  let text = '';
  beforeAll(async () => {
    await postJson(`${server.url}/predict`, { text: 'I am so happy today!' });
    await getJson(`${server.url}/definitely/not/a/route/12345`);
    const response = await fetch(`${server.url}/metrics`);
    expect(response.headers.get('content-type')).toContain('text/plain');
    text = await response.text();
  });

  const sample = (pattern: RegExp) => {
    const line = text.split('\n').find((l) => pattern.test(l));
    return line === undefined ? undefined : Number(line.split(' ').at(-1));
  };

  it('counts HTTP traffic by route template and lumps unmatched paths together', () => {
    expect(sample(/^http_requests_total\{method="POST",route="\/predict",status="200"\}/)).toBeGreaterThan(0);
    expect(sample(/^http_requests_total\{method="POST",route="\/v1\/models\/:name\/predict",status="200"\}/)).toBeGreaterThan(0);
    expect(sample(/^http_requests_total\{method="GET",route="__unmatched__",status="404"\}/)).toBeGreaterThan(0);
    expect(text).not.toContain('12345');
    expect(text).toMatch(/^http_request_duration_seconds_bucket\{le="0.005",method="POST",route="\/predict",status="200"\}/m);
  });

  it('times each inference stage per model and version', () => {
    for (const stage of ['preprocess', 'queue', 'infer', 'postprocess']) {
      expect(sample(new RegExp(`^vigil_inference_stage_duration_seconds_count\\{model="sentiment",version="1",stage="${stage}"\\}`))).toBeGreaterThan(0);
    }
  });

  it('counts predictions by label and records confidence and model info', () => {
    expect(sample(/^vigil_predictions_total\{model="sentiment",version="1",label="POSITIVE"\}/)).toBeGreaterThan(0);
    expect(sample(/^vigil_prediction_confidence_count\{model="sentiment",version="1"\}/)).toBeGreaterThan(0);
    expect(sample(/^vigil_model_info\{model="sentiment",version="1",task="text-classification",runtime="onnx"\}/)).toBe(1);
    expect(sample(/^vigil_model_ready\{model="sentiment",version="1"\}/)).toBe(1);
    expect(sample(/^vigil_truncated_inputs_total\{model="sentiment",version="1"\}/)).toBeGreaterThan(0);
  });

  it("keeps the mood app's metric names working", () => {
    expect(sample(/^requests_local_total /)).toBeGreaterThan(0);
    expect(sample(/^errors_local_total /)).toBe(0);
    expect(sample(/^local_inference_latency_seconds_count /)).toBeGreaterThan(0);
    expect(text).toMatch(/^local_inference_latency_seconds_bucket\{le="0.01"\}/m);
    expect(sample(/^local_model_loaded /)).toBe(1);
  });

  it('exports Node process metrics', () => {
    expect(sample(/^process_resident_memory_bytes /)).toBeGreaterThan(0);
    expect(sample(/^process_cpu_seconds_total /)).toBeGreaterThan(0);
    expect(text).toContain('nodejs_eventloop_lag_p99_seconds');
    expect(text).toContain('vigil_batch_size_bucket');
  });
});

describe('logs and docs', () => {
  it('writes one structured line per request, with the route template and never the body', async () => {
    const secretText = 'my-very-private-diary-entry-7c1f';
    const { body } = await postJson(`${server.url}/predict`, { text: secretText });
    const line = await server.waitForLog(new RegExp(`"request_id":"${body.request_id}".*"msg":"request"`));
    const entry = JSON.parse(line);
    expect(entry).toMatchObject({ method: 'POST', route: '/predict', status: 200, request_id: body.request_id });
    expect(typeof entry.latency_ms).toBe('number');
    expect(server.logs.join('\n')).not.toContain(secretText);
  });

  it('names the request once in the line about a request that failed on the server side', async () => {
    // The remote model has no token here: a 503 the server knows (not_configured), logged as a warning.
    const { status, body } = await postJson(`${server.url}/v1/models/positive-thought/predict`, { prompt: 'hello' });
    expect(status).toBe(503);
    const line = await server.waitForLog(new RegExp(`"request_id":"${body.error.request_id}".*"msg":"request failed"`));
    expect(line.match(/"request_id"/g)).toHaveLength(1);
    expect(JSON.parse(line)).toMatchObject({ level: 'warn', code: 'not_configured', request_id: body.error.request_id });
  });

  it('keeps a client-chosen request id that looks like personal data out of the request line', async () => {
    const { body } = await postJson(`${server.url}/predict`, { text: 'fine' }, { 'x-request-id': '203.0.113.77' });
    expect(body.request_id).toBe('203.0.113.77'); // the client still gets its own id back
    const line = await server.waitForLog(/"request_id":"<IP_ADDRESS>".*"route":"\/predict".*"msg":"request"/);
    expect(line.match(/"request_id"/g)).toHaveLength(1);
    expect(server.logs.join('\n')).not.toContain('203.0.113.77');
  });

  it('publishes an OpenAPI document at /docs', async () => {
    const page = await fetch(`${server.url}/docs`);
    expect(page.status).toBe(200);
    const spec = await getJson(`${server.url}/docs/json`);
    expect(spec.body.openapi).toMatch(/^3\./);
    expect(Object.keys(spec.body.paths)).toEqual(expect.arrayContaining(['/predict', '/v1/models/{name}/predict', '/ready', '/metrics']));
  });
});
