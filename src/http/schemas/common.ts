/**
 * Pieces every route's OpenAPI schema is built from: the two error envelopes, path parameters
 * and the admin bearer scheme. Schemas are documentation and the contract the route tests hold
 * answers to (test/integration/routes-inject.test.ts): bodies are checked by the handlers'
 * parsers, which name the field at fault, and answers are written with JSON.stringify, so a
 * schema never drops a field (app.ts sets both compilers).
 *
 * Descriptions are CommonMark as Swagger UI renders it: placeholders go in backticks, never as
 * `<word>` (an HTML tag, so it would vanish).
 */

export type JsonSchema = Record<string, unknown>;

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad request: the message names the field or input at fault (`invalid_json`, `invalid_input`, `too_many_inputs`, `invalid_timeout`, ...).',
  401: 'Missing or wrong bearer token (`unauthorized`), with `WWW-Authenticate: Bearer`.',
  403: 'The admin API is off: the server was started without `VIGIL_ADMIN_TOKEN` (`admin_disabled`).',
  404: 'Unknown model, version or alias (`model_not_found`), or unknown request id.',
  409: 'The change conflicts with the current state (for example a second label for one prediction).',
  413: 'The body is larger than `--body-limit` (`payload_too_large`).',
  415: 'A declared Content-Type this endpoint does not take (`unsupported_media_type`): send `application/json`.',
  421: 'The Host header is not one this server answers for (`--allowed-hosts`).',
  422: 'The model folder could not be read or loaded.',
  429: 'Too many requests from this client (`rate_limited`), with `Retry-After`.',
  500: 'The server failed (`internal_error`); the logs have the request id.',
  502: 'The remote model API failed or refused the server\'s token (`upstream_error`, `auth_failed`).',
  503: 'Not now: model not ready, queue full (`overloaded`), circuit open, draining; with `Retry-After` when it helps.',
  504: 'Waited past the deadline (`deadline_exceeded`) or the remote API did not answer in time (`upstream_timeout`).',
};

/** The JSON API's error body. */
export const ERROR_ENVELOPE: JsonSchema = {
  type: 'object',
  description: 'Every JSON API error: a stable `code`, a message saying what was wrong, and the request id (also the `x-request-id` header).',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message', 'request_id'],
      properties: {
        code: { type: 'string', example: 'invalid_input' },
        message: { type: 'string', example: '"text" must be a string, got number' },
        request_id: { type: 'string', example: '5c6faa5f-5981-426f-9666-37778d8ec2af' },
      },
    },
  },
};

/** The Open Inference Protocol's error body. */
export const OIP_ERROR: JsonSchema = {
  type: 'object',
  description: 'Open Inference Protocol error: one message.',
  required: ['error'],
  additionalProperties: false,
  properties: { error: { type: 'string', example: 'unknown input "image": this model takes "text"' } },
};

function errorsWith(envelope: JsonSchema, statuses: number[]): Record<number, JsonSchema> {
  return Object.fromEntries(statuses.map((status) => [status, { ...envelope, description: STATUS_TEXT[status] ?? envelope.description }]));
}

/** Every route may answer these: a refused Host, and a failure of the server itself. */
const ALWAYS = [421, 500];

export const jsonErrors = (...statuses: number[]) => errorsWith(ERROR_ENVELOPE, [...statuses, ...ALWAYS]);
export const oipErrors = (...statuses: number[]) => errorsWith(OIP_ERROR, [...statuses, ...ALWAYS]);

export const NAME_PARAM: JsonSchema = { type: 'string', description: 'Model name (`GET /v1/models` lists them).', example: 'sentiment' };
export const VERSION_PARAM: JsonSchema = {
  type: 'string',
  description: 'Version name, or an alias: `champion`, `challenger`, `shadow`.',
  example: '1',
};

export const params = (withVersion: boolean): JsonSchema => ({
  type: 'object',
  required: withVersion ? ['name', 'version'] : ['name'],
  properties: withVersion ? { name: NAME_PARAM, version: VERSION_PARAM } : { name: NAME_PARAM },
});

/** Headers the inference routes read (documented; the handlers check them). */
export const INFERENCE_HEADERS: JsonSchema = {
  type: 'object',
  properties: {
    'x-vigil-timeout-ms': { type: 'string', description: 'Longest wait in the queue, in milliseconds (0-600000); past it the answer is 504 and the input never runs.' },
    'x-vigil-route-key': { type: 'string', description: 'Sticky key for the canary split (your user id): one key stays on one version.' },
  },
};

export const ADMIN_SECURITY: { [label: string]: string[] }[] = [{ adminToken: [] }];

/** components.securitySchemes of the OpenAPI document. */
export const SECURITY_SCHEMES = {
  adminToken: {
    type: 'http',
    scheme: 'bearer',
    description: 'The server\'s admin token (`VIGIL_ADMIN_TOKEN`), for the model repository and routing changes. Without the variable these endpoints answer 403.',
  },
  feedbackToken: {
    type: 'http',
    scheme: 'bearer',
    description: 'Needed on `POST /v1/feedback` only when the server sets `VIGIL_FEEDBACK_TOKEN`.',
  },
};

export const STRING_MAP: JsonSchema = { type: 'object', additionalProperties: { type: 'number' } };
