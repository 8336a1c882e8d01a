import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ModelNotFound } from '../../errors.js';
import { httpCall } from '../call.js';
import { ROUTE_HEADER } from '../route-key.js';
import { streamPrediction, wantsStream } from '../sse.js';
import type { ServerContext } from '../context.js';

/**
 * The JSON API: an adapter over the dataplane (src/serving/dataplane.ts). It reads the route
 * key, deadline and request id from the HTTP request, hands the body to the dataplane (the
 * chosen model's task reads it) and shapes the answer; nothing here chooses or predicts.
 */

type PredictParams = { name?: string; version?: string };

export async function modelRoutes(app: FastifyInstance, context: ServerContext): Promise<void> {
  const { dataplane } = context;

  app.get('/v1/models', { schema: { tags: ['models'], summary: 'Models loaded by this server.' } }, async () => dataplane.list());

  const describeRoute = async (request: FastifyRequest<{ Params: PredictParams }>) => dataplane.describe(request.params.name ?? '', request.params.version);
  app.get('/v1/models/:name', { schema: { tags: ['models'], summary: 'One model (its champion version): versions, state, signature, evaluation.' } }, describeRoute);
  app.get('/v1/models/:name/versions/:version', { schema: { tags: ['models'], summary: 'One model version (or alias: champion, challenger, shadow).' } }, describeRoute);

  async function predict(request: FastifyRequest<{ Params: PredictParams }>, reply: FastifyReply, name: string | undefined) {
    if (!name) throw new ModelNotFound('(default)');
    const call = httpCall(request, reply, name, request.params.version, request.body);
    if (wantsStream(request.body)) {
      const prepared = dataplane.prepareStream(call);
      void reply.header(ROUTE_HEADER, prepared.route);
      return streamPrediction(request, reply, prepared);
    }
    call.onRoute = (route) => void reply.header(ROUTE_HEADER, route);
    const answer = await dataplane.predict(call);
    const { predictions, batch } = answer.result;
    const about = {
      model: answer.model.name,
      version: answer.model.version,
      request_id: request.id,
      ...(answer.fallback ? { fallback: answer.fallback } : {}),
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
    predict(request, reply, dataplane.defaultModel),
  );
  app.post('/v1/models/:name/predict', { schema: predictSchema('Predict with a model: its champion version, or the challenger for the canary share.') }, (request: FastifyRequest<{ Params: PredictParams }>, reply) =>
    predict(request, reply, request.params.name),
  );
  app.post('/v1/models/:name/versions/:version/predict', { schema: predictSchema('Predict with one version of a model, or an alias (champion, challenger, shadow).') }, (request: FastifyRequest<{ Params: PredictParams }>, reply) =>
    predict(request, reply, request.params.name),
  );
}
