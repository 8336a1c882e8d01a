import { ADMIN_SECURITY, INFERENCE_HEADERS, oipErrors, params, type JsonSchema } from './common.js';

/** OpenAPI schemas of the Open Inference Protocol REST API (/v2/...), one per operation. */

const tags = ['oip'];

const DATATYPE = { type: 'string', enum: ['BOOL', 'UINT8', 'UINT16', 'UINT32', 'UINT64', 'INT8', 'INT16', 'INT32', 'INT64', 'FP16', 'FP32', 'FP64', 'BYTES'] };
const PARAMETERS: JsonSchema = {
  type: 'object',
  description: 'Values are strings, numbers or booleans. Only the output parameter `classification` is read; the others (`binary_data`, `binary_data_output`, ...) are accepted and ignored.',
  additionalProperties: { type: ['string', 'number', 'boolean'] },
};
const TENSOR_METADATA: JsonSchema = {
  type: 'object',
  required: ['name', 'datatype', 'shape'],
  properties: { name: { type: 'string' }, datatype: DATATYPE, shape: { type: 'array', items: { type: 'integer' }, description: '-1: any size.' } },
};
const TENSOR: JsonSchema = {
  type: 'object',
  required: ['name', 'shape', 'datatype', 'data'],
  properties: {
    name: { type: 'string' },
    shape: { type: 'array', items: { type: 'integer', minimum: 0 } },
    datatype: DATATYPE,
    parameters: PARAMETERS,
    data: { type: 'array', items: {}, description: 'Row-major, flat or nested.' },
  },
};

const LIVE = { type: 'object', required: ['live'], properties: { live: { type: 'boolean' } } };
const READY = { type: 'object', required: ['ready'], properties: { ready: { type: 'boolean' } } };
const MODEL_READY = { type: 'object', required: ['name', 'ready'], properties: { name: { type: 'string' }, ready: { type: 'boolean' } } };

const MODEL_METADATA: JsonSchema = {
  type: 'object',
  required: ['name', 'versions', 'platform', 'inputs', 'outputs'],
  properties: {
    name: { type: 'string' },
    versions: { type: 'array', items: { type: 'string' } },
    platform: { type: 'string', enum: ['onnx_onnxv1', 'remote'] },
    inputs: { type: 'array', items: TENSOR_METADATA },
    outputs: { type: 'array', items: TENSOR_METADATA },
    properties: { type: 'object', additionalProperties: { type: 'string' }, description: 'task, version, labels; for regression features and units (JSON arrays), target.' },
  },
};

const INFER_REQUEST: JsonSchema = {
  type: 'object',
  description:
    'JSON tensors. Content-Type `application/json`, none at all (as tritonclient.http and KServe\'s client send it), or `application/octet-stream` ' +
    'without `Inference-Header-Content-Length`. The binary tensor extension is not supported (400 saying so).',
  required: ['inputs'],
  properties: {
    id: { type: 'string', description: 'Echoed in the answer.' },
    parameters: PARAMETERS,
    inputs: { type: 'array', minItems: 1, items: TENSOR },
    outputs: {
      type: 'array',
      description: 'Left out: every output, in metadata order.',
      items: { type: 'object', required: ['name'], properties: { name: { type: 'string' }, parameters: PARAMETERS } },
    },
  },
  'x-examples': {
    text: {
      summary: 'sentiment: two texts',
      value: { id: '1', inputs: [{ name: 'text', shape: [2], datatype: 'BYTES', data: ['I love this', 'Terrible movie'] }] },
    },
    tritonclient: {
      summary: 'sentiment, as tritonclient.http sends it (binary_data false on each output)',
      value: { inputs: [{ name: 'text', shape: [1], datatype: 'BYTES', data: ['I love this'] }], outputs: [{ name: 'label', parameters: { binary_data: false } }] },
    },
    classification: {
      summary: 'sentiment: top-1 class per text (classification extension)',
      value: { inputs: [{ name: 'text', shape: [1], datatype: 'BYTES', data: ['I love this'] }], outputs: [{ name: 'probabilities', parameters: { classification: 1 } }] },
    },
  },
};

const INFER_RESPONSE: JsonSchema = {
  type: 'object',
  required: ['model_name', 'model_version', 'outputs'],
  properties: {
    model_name: { type: 'string' },
    model_version: { type: 'string' },
    id: { type: 'string' },
    outputs: { type: 'array', items: TENSOR },
  },
};

const INFER_ERRORS = oipErrors(400, 404, 413, 415, 503, 504);

export const oip = {
  live: { tags, summary: 'Server live: the process answers (never touches a model).', response: { 200: LIVE, ...oipErrors() } },
  ready: {
    tags,
    summary: 'Server ready: every local model loaded, not draining.',
    response: { 200: READY, 503: { ...READY, description: 'Loading, failed or draining.' }, ...oipErrors() },
  },
  server: {
    tags,
    summary: 'Server metadata: name, version, extensions.',
    response: {
      200: { type: 'object', required: ['name', 'version', 'extensions'], properties: { name: { type: 'string' }, version: { type: 'string' }, extensions: { type: 'array', items: { type: 'string' } } } },
      ...oipErrors(),
    },
  },
  metadata: {
    tags,
    summary: "Model metadata, of the model's champion version.",
    params: params(false),
    response: { 200: MODEL_METADATA, ...oipErrors(404, 503) },
  },
  versionMetadata: { tags, summary: 'Model metadata of one version (or alias).', params: params(true), response: { 200: MODEL_METADATA, ...oipErrors(404, 503) } },
  modelReady: {
    tags,
    summary: "Model ready: its champion version is loaded (200) or not (503).",
    params: params(false),
    response: { 200: MODEL_READY, 503: { ...MODEL_READY, description: 'Not ready.' }, ...oipErrors(404) },
  },
  versionReady: {
    tags,
    summary: 'Model version ready: 200 or 503.',
    params: params(true),
    response: { 200: MODEL_READY, 503: { ...MODEL_READY, description: 'Not ready.' }, ...oipErrors(404) },
  },
  infer: {
    tags,
    summary: "Inference with the model's champion (or its challenger, for the canary share); header `x-vigil-route` says which.",
    params: params(false),
    headers: INFERENCE_HEADERS,
    body: INFER_REQUEST,
    response: { 200: INFER_RESPONSE, ...INFER_ERRORS },
  },
  versionInfer: {
    tags,
    summary: 'Inference with one version, or an alias (`champion`, `challenger`, `shadow`).',
    params: params(true),
    headers: INFERENCE_HEADERS,
    body: INFER_REQUEST,
    response: { 200: INFER_RESPONSE, ...INFER_ERRORS },
  },
  repositoryIndex: {
    tags,
    summary: 'Every model version and its state (`READY`, `LOADING`, `UNAVAILABLE`); `{"ready": true}` lists ready ones only.',
    security: ADMIN_SECURITY,
    body: { type: 'object', properties: { ready: { type: 'boolean' } }, example: { ready: true } },
    response: {
      200: {
        type: 'array',
        items: { type: 'object', required: ['name', 'state'], properties: { name: { type: 'string' }, version: { type: 'string' }, state: { type: 'string', enum: ['READY', 'LOADING', 'UNAVAILABLE'] }, reason: { type: 'string' } } },
      },
      ...oipErrors(400, 401, 403, 415),
    },
  },
  repositoryLoad: {
    tags,
    summary: "Re-read the model's folder and load what changed, after warming it up (idempotent). No body, or `{}`.",
    security: ADMIN_SECURITY,
    params: params(false),
    response: { 200: { type: 'object', additionalProperties: false }, ...oipErrors(400, 401, 403, 404, 415, 422) },
  },
  repositoryUnload: {
    tags,
    summary: 'Drain queued requests, then release the model (idempotent). No body, or `{}`.',
    security: ADMIN_SECURITY,
    params: params(false),
    response: { 200: { type: 'object', additionalProperties: false }, ...oipErrors(400, 401, 403, 404, 415) },
  },
};
