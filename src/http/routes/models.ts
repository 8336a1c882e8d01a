import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ModelNotFound } from '../../errors.js';
import { httpCall } from '../call.js';
import { ROUTE_HEADER } from '../route-key.js';
import { streamPrediction, wantsStream } from '../sse.js';
import type { ServerContext } from '../context.js';
import { models as schemas, predict as predictSchemas } from '../schemas/json-api.js';

/**
 * The JSON API: an adapter over the dataplane (src/serving/dataplane.ts). It reads the route
 * key, deadline and request id from the HTTP request, hands the body to the dataplane (the
 * chosen model's task reads it) and shapes the answer; nothing here chooses or predicts.
 */

type PredictParams = { name?: string; version?: string };

export async function modelRoutes(app: FastifyInstance, context: ServerContext): Promise<void> {
  const { dataplane } = context;

  app.get('/v1/models', { schema: schemas.list }, async () => dataplane.list());

  const describeRoute = async (request: FastifyRequest<{ Params: PredictParams }>) => dataplane.describe(request.params.name ?? '', request.params.version);
  app.get('/v1/models/:name', { schema: schemas.one }, describeRoute);
  app.get('/v1/models/:name/versions/:version', { schema: schemas.version }, describeRoute);

  async function predict(request: FastifyRequest<{ Params: PredictParams }>, reply: FastifyReply, name: string | undefined) {
    if (!name) throw new ModelNotFound('(default)');
    // onRoute is given to httpCall, not assigned after: a property added to the call later kept
    // each request's graph alive across scavenges (lazy-signal.ts).
    const call = httpCall(request, reply, name, request.params.version, request.body, (route) => void reply.header(ROUTE_HEADER, route));
    if (wantsStream(request.body)) {
      const prepared = dataplane.prepareStream(call);
      void reply.header(ROUTE_HEADER, prepared.route);
      return streamPrediction(request, reply, prepared);
    }
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

  app.post('/predict', { schema: predictSchemas.byDefault }, (request: FastifyRequest<{ Params: PredictParams }>, reply) =>
    predict(request, reply, dataplane.defaultModel),
  );
  app.post('/v1/models/:name/predict', { schema: predictSchemas.model }, (request: FastifyRequest<{ Params: PredictParams }>, reply) =>
    predict(request, reply, request.params.name),
  );
  app.post('/v1/models/:name/versions/:version/predict', { schema: predictSchemas.version }, (request: FastifyRequest<{ Params: PredictParams }>, reply) =>
    predict(request, reply, request.params.name),
  );
}
