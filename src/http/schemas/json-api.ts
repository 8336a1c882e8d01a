import { ADMIN_SECURITY, INFERENCE_HEADERS, jsonErrors, params, STRING_MAP, type JsonSchema } from './common.js';

/** OpenAPI schemas of the JSON API (/alive, /ready, /health, /metrics, /v1/...), one per operation. */

const MODEL_STATUS: JsonSchema = {
  type: 'object',
  required: ['name', 'version', 'state'],
  properties: {
    name: { type: 'string' },
    version: { type: 'string' },
    task: { type: 'string' },
    runtime: { type: 'string', enum: ['onnx', 'remote'] },
    state: { type: 'string', description: '`loading`, `ready`, `failed`, `unavailable` (remote, not configured), `unloaded`, ...' },
    reason: { type: 'string', description: 'Why the model is not ready.' },
    required: { type: 'boolean', description: 'Counts for readiness (local models do, remote ones do not).' },
  },
};

const READINESS: JsonSchema = {
  type: 'object',
  required: ['ready', 'models'],
  properties: {
    ready: { type: 'boolean' },
    reason: { type: 'string', example: 'shutting down' },
    models: { type: 'array', items: MODEL_STATUS },
  },
};

const HEALTH: JsonSchema = {
  type: 'object',
  required: ['status', 'version', 'uptime_seconds', 'ready', 'models'],
  properties: {
    status: { type: 'string', enum: ['ok', 'failing'] },
    version: { type: 'string' },
    uptime_seconds: { type: 'number' },
    ready: { type: 'boolean' },
    models: { type: 'array', items: MODEL_STATUS },
    checks: {
      type: 'array',
      description: 'With `?deep=1`: one real prediction per model.',
      items: {
        type: 'object',
        required: ['name', 'version', 'required', 'ok'],
        properties: {
          name: { type: 'string' },
          version: { type: 'string' },
          required: { type: 'boolean' },
          ok: { type: 'boolean' },
          latency_ms: { type: 'number' },
          prediction: {},
          error: { type: 'string' },
        },
      },
    },
  },
};

export const health = {
  alive: {
    tags: ['health'],
    summary: 'Liveness: the process answers (never touches a model).',
    response: {
      200: { type: 'object', required: ['status', 'uptime_seconds'], properties: { status: { type: 'string', enum: ['alive'] }, uptime_seconds: { type: 'number' } } },
      ...jsonErrors(),
    },
  },
  ready: {
    tags: ['health'],
    summary: 'Readiness: 200 when every local model is loaded and warmed up, else 503 with each model\'s state.',
    response: { 200: READINESS, 503: { ...READINESS, description: 'Not ready: a local model is loading or failed, or the server is draining.' }, ...jsonErrors() },
  },
  health: {
    tags: ['health'],
    summary: 'Liveness with details; `?deep=1` runs one real prediction per model (503 if a local one fails).',
    querystring: { type: 'object', properties: { deep: { type: 'string', enum: ['0', '1', 'true', 'false'], description: 'Run one prediction per model.' } } },
    response: { 200: HEALTH, 503: { ...HEALTH, description: 'A required model failed its deep check.' }, ...jsonErrors(400) },
  },
};

export const metrics = {
  tags: ['monitoring'],
  summary: 'Prometheus metrics (text exposition format 0.0.4).',
  produces: ['text/plain'],
  response: {
    200: { description: 'Metrics in the Prometheus text format.', content: { 'text/plain': { schema: { type: 'string', example: 'http_requests_total{method="GET",route="/alive",status="200"} 1' } } } },
    ...jsonErrors(),
  },
};

const MODEL: JsonSchema = {
  type: 'object',
  required: ['name', 'version', 'versions', 'task', 'runtime', 'state'],
  properties: {
    name: { type: 'string' },
    version: { type: 'string' },
    versions: { type: 'array', items: { type: 'string' } },
    task: { type: 'string', enum: ['text-classification', 'image-classification', 'tabular-regression', 'text-generation'] },
    runtime: { type: 'string', enum: ['onnx', 'remote'] },
    state: { type: 'string' },
    reason: { type: 'string' },
    description: { type: 'string' },
    labels: { type: 'array', items: { type: 'string' } },
    preprocessing: { type: 'object', description: 'What a client needs to build a request: feature names and units, image size, maximum text length.' },
    signature: { type: 'object', description: 'Input and output tensors.' },
    batching: { type: 'object' },
    quality: { type: 'object' },
    evaluation: { type: 'object', description: 'Held-out results from training.' },
    fallback: { type: 'string' },
    load_seconds: { type: 'number' },
  },
};

export const models = {
  list: {
    tags: ['models'],
    summary: 'Models served: versions, state, signature, labels, held-out evaluation.',
    response: {
      200: { type: 'object', required: ['models'], properties: { default: { type: 'string', description: 'The model answering `POST /predict`.' }, models: { type: 'array', items: MODEL } } },
      ...jsonErrors(),
    },
  },
  one: {
    tags: ['models'],
    summary: 'One model, described by its champion version.',
    params: params(false),
    response: { 200: MODEL, ...jsonErrors(404) },
  },
  version: {
    tags: ['models'],
    summary: 'One version of a model, or an alias (`champion`, `challenger`, `shadow`).',
    params: params(true),
    response: { 200: MODEL, ...jsonErrors(404) },
  },
};

const ABOUT = {
  model: { type: 'string' },
  version: { type: 'string', description: 'The version that answered.' },
  request_id: { type: 'string', description: 'Send it with `POST /v1/feedback` to score this prediction later.' },
  fallback: { type: 'object', description: 'Present when a fallback model answered.', properties: { from: { type: 'string' }, reason: { type: 'string' } } },
};
const CLASSIFICATION = {
  type: 'object',
  title: 'classification',
  required: ['label', 'score'],
  properties: { label: { type: 'string' }, score: { type: 'number' }, scores: STRING_MAP, truncated: { type: 'boolean', description: 'The text was longer than the model takes and was cut.' } },
};
const REGRESSION = {
  type: 'object',
  title: 'regression',
  required: ['value'],
  properties: { value: { type: 'number' }, unit: { type: 'string' }, target: { type: 'string' } },
};
const GENERATION = {
  type: 'object',
  title: 'generation',
  required: ['text'],
  properties: { text: { type: 'string' }, usage: { type: 'object' } },
};
const ONE_PREDICTION = { anyOf: [CLASSIFICATION, REGRESSION, GENERATION] };

const PREDICT_RESPONSE: JsonSchema = {
  description:
    'One prediction for one input (its fields, plus `model`, `version`, `request_id`), or `{"predictions": [...]}` for a batch. ' +
    'Header `x-vigil-route` says how the version was chosen: `champion`, `canary` or `explicit`. ' +
    'With `"stream": true` (text generation) the answer is `text/event-stream`: `token` events, then `done` or `error`.',
  anyOf: [
    { ...CLASSIFICATION, properties: { ...CLASSIFICATION.properties, ...ABOUT } },
    { ...REGRESSION, properties: { ...REGRESSION.properties, ...ABOUT } },
    { ...GENERATION, properties: { ...GENERATION.properties, ...ABOUT } },
    { type: 'object', title: 'batch', required: ['predictions'], properties: { predictions: { type: 'array', items: ONE_PREDICTION }, ...ABOUT } },
  ],
};

const BLANK_DIGIT = Array.from({ length: 784 }, () => 0);
const AIR_READING = { 'PT08.S1(CO)': 1360, 'PT08.S2(NMHC)': 1046, 'PT08.S3(NOx)': 1056, 'PT08.S4(NO2)': 1692, 'PT08.S5(O3)': 1268, T: 13.6, RH: 48.9, AH: 0.7578, hour: 18, dayOfWeek: 2 };

/** Request examples by model, for "Try it out": the first is the default. */
export const PREDICT_EXAMPLES: Record<string, { model: string; summary: string; value: unknown }> = {
  text: { model: 'sentiment', summary: 'sentiment: one text', value: { text: 'I am so happy today!' } },
  texts: { model: 'sentiment', summary: 'sentiment: a batch', value: { texts: ['I am so happy today!', 'This is the worst day ever.'] } },
  spam: { model: 'spam', summary: 'spam: one message', value: { text: 'WIN a FREE cruise!!! Click here now to claim your prize' } },
  digits: { model: 'digits', summary: 'digits: 28x28 pixels in 0..1 (a blank image)', value: { pixels: BLANK_DIGIT } },
  airQuality: { model: 'air-quality', summary: 'air-quality: one hour of sensor readings', value: { features: AIR_READING } },
  generation: { model: 'positive-thought', summary: 'positive-thought (remote; needs HF_TOKEN)', value: { prompt: 'I failed my driving test today.', sentiment: { label: 'NEGATIVE', score: 0.97 } } },
};

const exampleObjects = (names: string[]) =>
  Object.fromEntries(names.map((name) => [name, { summary: PREDICT_EXAMPLES[name]!.summary, value: PREDICT_EXAMPLES[name]!.value }]));

const predictBody = (exampleNames: string[]): JsonSchema => ({
  type: 'object',
  description:
    'Depends on the model\'s task. Text classification: `{"text": "..."}` or `{"texts": [...]}`. ' +
    'Image classification: `{"pixels": [784 numbers in 0..1]}` (28x28, white on black), `{"image": "a base64 PNG or a data: URL"}`, or `{"inputs": [...]}` for a batch. ' +
    'Tabular regression: `{"features": {"name": number, ...}}` or `{"rows": [...]}`, with the names of `GET /v1/models/{name}` (`preprocessing.features`). ' +
    'Text generation: `{"prompt": "...", "sentiment"?: {"label", "score"}, "stream"?: true}`. ' +
    'Optional everywhere: `"timeout_ms"` (or header `x-vigil-timeout-ms`) and `"route_key"` (or header `x-vigil-route-key`).',
  properties: {
    text: { type: 'string' },
    texts: { type: 'array', items: { type: 'string' } },
    pixels: { type: 'array', items: {} },
    image: { type: 'string' },
    inputs: { type: 'array', items: {} },
    features: { type: 'object', additionalProperties: { type: 'number' } },
    rows: { type: 'array', items: { type: 'object' } },
    prompt: { type: 'string' },
    stream: { type: 'boolean' },
    timeout_ms: { type: 'integer', minimum: 0, maximum: 600000 },
    route_key: { type: 'string' },
  },
  'x-examples': exampleObjects(exampleNames),
});

const PREDICT_ERRORS = jsonErrors(400, 404, 413, 415, 502, 503, 504);
const ALL_EXAMPLES = ['text', 'texts', 'spam', 'digits', 'airQuality', 'generation'];

export const predict = {
  byDefault: {
    tags: ['predict'],
    summary: 'Predict with the default model (`sentiment`, or `--default-model`).',
    headers: INFERENCE_HEADERS,
    body: predictBody(['text', 'texts']),
    response: { 200: PREDICT_RESPONSE, ...PREDICT_ERRORS },
  },
  model: {
    tags: ['predict'],
    summary: "Predict with a model's champion version (or its challenger, for the canary share).",
    params: params(false),
    headers: INFERENCE_HEADERS,
    body: predictBody(ALL_EXAMPLES),
    response: { 200: PREDICT_RESPONSE, ...PREDICT_ERRORS },
  },
  version: {
    tags: ['predict'],
    summary: 'Predict with one version of a model, or an alias (`champion`, `challenger`, `shadow`).',
    params: params(true),
    headers: INFERENCE_HEADERS,
    body: predictBody(ALL_EXAMPLES),
    response: { 200: PREDICT_RESPONSE, ...PREDICT_ERRORS },
  },
};

const ROUTING: JsonSchema = {
  type: 'object',
  required: ['model', 'champion', 'canary_weight', 'shadow_weight', 'versions'],
  properties: {
    model: { type: 'string' },
    champion: { type: ['string', 'null'], description: 'The version answering unaddressed requests.' },
    champion_pinned: { type: 'boolean', description: 'false: not pinned, so the champion is the latest ready version that is neither challenger nor shadow.' },
    challenger: { type: ['string', 'null'] },
    canary_weight: { type: 'number', minimum: 0, maximum: 1 },
    shadow: { type: ['string', 'null'] },
    shadow_weight: { type: 'number', minimum: 0, maximum: 1 },
    previous_champion: { type: ['string', 'null'] },
    updated_at: { type: ['string', 'null'] },
    rolled_back: { type: 'string', description: 'After a rollback: what was undone.' },
    versions: {
      type: 'array',
      items: { type: 'object', properties: { version: { type: 'string' }, state: { type: 'string' }, aliases: { type: 'array', items: { type: 'string' } } } },
    },
  },
};

const ROUTING_CHANGE: JsonSchema = {
  type: 'object',
  description: 'Versions as strings; `null` clears a field. Weights are shares of requests, 0..1.',
  properties: {
    champion: { type: ['string', 'null'] },
    challenger: { type: ['string', 'null'] },
    canary_weight: { type: ['number', 'null'], minimum: 0, maximum: 1 },
    shadow: { type: ['string', 'null'] },
    shadow_weight: { type: ['number', 'null'], minimum: 0, maximum: 1 },
  },
  additionalProperties: false,
};

export const routing = {
  get: {
    tags: ['models'],
    summary: "A model's routing: champion, challenger, canary weight, shadow, and each version's aliases.",
    params: params(false),
    response: { 200: ROUTING, ...jsonErrors(404) },
  },
  put: {
    tags: ['models'],
    summary: 'Replace the routing: fields left out go back to their defaults.',
    security: ADMIN_SECURITY,
    params: params(false),
    body: { ...ROUTING_CHANGE, example: { champion: '1', shadow: null } },
    response: { 200: ROUTING, ...jsonErrors(400, 401, 403, 404, 409, 415) },
  },
  patch: {
    tags: ['models'],
    summary: 'Change some routing fields; the others stay.',
    security: ADMIN_SECURITY,
    params: params(false),
    body: { ...ROUTING_CHANGE, example: { shadow: null } },
    response: { 200: ROUTING, ...jsonErrors(400, 401, 403, 404, 409, 415) },
  },
  promote: {
    tags: ['models'],
    summary: 'The challenger becomes the champion for all traffic; the old champion is kept for a rollback.',
    security: ADMIN_SECURITY,
    params: params(false),
    response: { 200: ROUTING, ...jsonErrors(400, 401, 403, 404, 409, 415) },
  },
  rollback: {
    tags: ['models'],
    summary: 'Stop a running canary; with none running, undo the last promotion.',
    security: ADMIN_SECURITY,
    params: params(false),
    response: { 200: ROUTING, ...jsonErrors(400, 401, 403, 404, 409, 415) },
  },
};

const FEEDBACK_ITEM: JsonSchema = {
  type: 'object',
  required: ['request_id'],
  properties: {
    request_id: { type: 'string', description: 'The `request_id` of the prediction\'s answer.' },
    index: { type: 'integer', minimum: 0, description: 'The input\'s position in a batch request.' },
    label: { type: 'string', description: 'The true label (classifiers).' },
    value: { type: 'number', description: 'The true value (regression).' },
  },
};
const FEEDBACK_RESULT: JsonSchema = {
  type: 'object',
  properties: {
    model: { type: 'string' },
    version: { type: 'string' },
    predicted: {},
    label: { type: 'string' },
    value: { type: 'number' },
    correct: { type: 'boolean' },
    outcome: { type: 'string' },
    delay_seconds: { type: 'number' },
  },
};

export const feedback = {
  tags: ['monitoring'],
  summary: 'Delayed labels: the true answer for an earlier prediction, joined by its `request_id`.',
  security: [{}, { feedbackToken: [] }] as { [label: string]: string[] }[],
  body: {
    type: 'object',
    description: 'One item, or `{"feedback": [items]}` (at most 1000, all recorded or none).',
    properties: { ...(FEEDBACK_ITEM.properties as object), feedback: { type: 'array', items: FEEDBACK_ITEM } },
    example: { request_id: 'the request_id of a predict answer', label: 'spam' },
  },
  response: {
    200: { description: 'The joined label, or `{"recorded": [...]}` for a list.', anyOf: [FEEDBACK_RESULT, { type: 'object', required: ['recorded'], properties: { recorded: { type: 'array', items: FEEDBACK_RESULT } } }] },
    ...jsonErrors(400, 401, 404, 409, 413, 415, 429, 503),
  },
};
