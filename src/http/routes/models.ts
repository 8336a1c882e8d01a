import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { InvalidInput, ModelNotFound } from '../../errors.js';
import type { ModelVersion } from '../../serving/model-version.js';
import { requestRouteKey, ROUTE_HEADER } from '../route-key.js';
import { predictOptions, streamPrediction, wantsStream } from '../sse.js';
import type { ServerContext } from '../context.js';

/** What the JSON API says about a model version: never secrets, never local file paths. */
export function describeModel(model: ModelVersion, allVersions: string[]) {
  const { spec } = model;
  return {
    name: spec.name,
    version: spec.version,
    versions: allVersions,
    task: spec.task,
    runtime: spec.runtime,
    state: model.state,
    ...(model.reason ? { reason: model.reason } : {}),
    description: spec.description,
    labels: spec.labels,
    // What a client needs to build a request: feature names/units for tables, image size, max length.
    preprocessing: spec.preprocessing,
    signature: model.signature(),
    batching: model.batching,
    quality: spec.quality,
    evaluation: spec.evaluation,
    fallback: spec.fallback,
    load_seconds: model.loadSeconds,
  };
}

type PredictParams = { name?: string; version?: string };

/** Per-request deadline (docs/performance.md): header `x-vigil-timeout-ms` and/or body `timeout_ms`; the smaller wins. */
export const TIMEOUT_HEADER = 'x-vigil-timeout-ms';
const MAX_TIMEOUT_MS = 600_000;

function checkTimeout(raw: unknown, where: string): number {
  const value = typeof raw === 'string' && /^\s*\d+\s*$/.test(raw) ? Number(raw) : raw;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > MAX_TIMEOUT_MS) {
    throw new InvalidInput(`${where} must be a whole number of milliseconds from 0 to ${MAX_TIMEOUT_MS}, got ${JSON.stringify(raw)}`, 'invalid_timeout');
  }
  return value;
}

/** The caller's deadline for waiting in the queue; past it the request is answered 504 unrun. */
export function requestTimeoutMs(request: FastifyRequest): number | undefined {
  const found: number[] = [];
  const header = request.headers[TIMEOUT_HEADER];
  if (header !== undefined) found.push(checkTimeout(Array.isArray(header) ? header.join(',') : header, `header ${TIMEOUT_HEADER}`));
  const body = request.body;
  if (typeof body === 'object' && body !== null && 'timeout_ms' in body) found.push(checkTimeout((body as { timeout_ms: unknown }).timeout_ms, '"timeout_ms"'));
  return found.length > 0 ? Math.min(...found) : undefined;
}

export async function modelRoutes(app: FastifyInstance, context: ServerContext): Promise<void> {
  const { registry, limits, router } = context;

  app.get('/v1/models', { schema: { tags: ['models'], summary: 'Models loaded by this server.' } }, async () => ({
    default: registry.defaultModelName,
    models: registry.names().map((name) => {
      const model = registry.get(name);
      return describeModel(model, registry.versions(name).map((v) => v.version));
    }),
  }));

  const describeRoute = async (request: FastifyRequest<{ Params: PredictParams }>) => {
    const { name = '', version } = request.params;
    return describeModel(registry.get(name, version), registry.versions(name).map((v) => v.version));
  };
  app.get('/v1/models/:name', { schema: { tags: ['models'], summary: 'One model (its champion version): versions, state, signature, evaluation.' } }, describeRoute);
  app.get('/v1/models/:name/versions/:version', { schema: { tags: ['models'], summary: 'One model version (or alias: champion, challenger, shadow).' } }, describeRoute);

  async function predict(request: FastifyRequest<{ Params: PredictParams }>, reply: FastifyReply, name: string | undefined) {
    if (!name) throw new ModelNotFound('(default)');
    // Version choice (champion, canary, sticky key, shadow) and fallback live in the serving layer, not here.
    const decision = router.choose(name, { version: request.params.version, routeKey: requestRouteKey(request), requestId: request.id });
    const timeoutMs = requestTimeoutMs(request);
    const { inputs, batch } = decision.model.task.parseRequest(request.body, { maxBatchInputs: limits.maxBatchInputs });
    void reply.header(ROUTE_HEADER, decision.route);
    if (wantsStream(request.body)) return streamPrediction({ request, reply, router, decision, inputs, batch });
    const routed = await router.predict(decision, inputs, predictOptions(reply, { timeoutMs, requestId: request.id }));
    const predictions = routed.result;
    const about = {
      model: routed.model.name,
      version: routed.model.version,
      request_id: request.id,
      ...(routed.fallback ? { fallback: routed.fallback } : {}),
    };
    return reply.send(batch ? { predictions, ...about } : { ...predictions[0], ...about });
  }

  const predictSchema = (summary: string) => ({
    tags: ['predict'],
    summary,
    body: {
      description:
        'Optional "route_key" (or header x-vigil-route-key) keeps one user on one version during a canary (docs/releases.md). Depends on the model\'s task: {"text"} or {"texts"} for text classification; {"pixels": [784 numbers in 0..1]} or {"image": "<base64 PNG>"} (or {"inputs": [...]}) for image classification; {"features": {"<name>": number}} (or {"rows": [...]}) for tabular regression, feature names in GET /v1/models/{name} under preprocessing.features; {"prompt", "sentiment"?, "stream"?} for text generation ("stream": true answers server-sent events: token, then done or error; see docs/dual-mode.md). Optional "timeout_ms" (or header x-vigil-timeout-ms) drops the request with 504 if it waits longer in the queue.',
      type: 'object',
      additionalProperties: true,
    },
  });

  app.post('/predict', { schema: predictSchema('Predict with the default model.') }, (request: FastifyRequest<{ Params: PredictParams }>, reply) =>
    predict(request, reply, registry.defaultModelName),
  );
  app.post('/v1/models/:name/predict', { schema: predictSchema('Predict with a model: its champion version, or the challenger for the canary share.') }, (request: FastifyRequest<{ Params: PredictParams }>, reply) =>
    predict(request, reply, request.params.name),
  );
  app.post('/v1/models/:name/versions/:version/predict', { schema: predictSchema('Predict with one version of a model, or an alias (champion, challenger, shadow).') }, (request: FastifyRequest<{ Params: PredictParams }>, reply) =>
    predict(request, reply, request.params.name),
  );
}
