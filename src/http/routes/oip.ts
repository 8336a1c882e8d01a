import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { InvalidInput } from '../../errors.js';
import { acceptEmptyJsonBodies, adminGuard, adminTokenFromEnv, warnIfUnprotected } from '../admin-auth.js';
import { httpCall } from '../call.js';
import type { ServerContext } from '../context.js';
import { ROUTE_HEADER } from '../route-key.js';

/**
 * The Open Inference Protocol (KServe V2) over REST: an adapter over the OIP dataplane
 * (src/serving/oip/oip-dataplane.ts), which holds the tensor checks, codecs, requested outputs
 * and the classification extension for every OIP transport. This file maps routes and status
 * codes: not ready answers 503 with `{"ready": false}` (readiness probes read the status code);
 * the rest of the choices the protocol leaves open are listed in docs/oip.md.
 */

type ModelParams = { name: string; version?: string };

export async function oipRoutes(app: FastifyInstance, context: ServerContext): Promise<void> {
  const { oip, logger } = context;
  const token = adminTokenFromEnv();
  warnIfUnprotected(token, logger, 'the model repository API (POST /v2/repository/...: load and unload models)');
  const admin = adminGuard(token);

  // Repository clients post without a body (or `{}`); an empty JSON body means "no options" here.
  acceptEmptyJsonBodies(app);

  const tags = ['oip'];

  app.get('/v2/health/live', { schema: { tags, summary: 'Server live: the process answers (never touches models).' } }, async () => ({ live: oip.serverLive() }));

  app.get('/v2/health/ready', { schema: { tags, summary: 'Server ready: 200 {"ready":true}, else 503 {"ready":false} (loading, draining).' } }, async (_request, reply) => {
    const ready = oip.serverReady();
    return reply.code(ready ? 200 : 503).send({ ready });
  });

  app.get('/v2', { schema: { tags, summary: 'Server metadata: name, version, extensions.' } }, async () => oip.serverMetadata(context.version));

  const metadata = async (request: FastifyRequest<{ Params: ModelParams }>) => oip.modelMetadata(request.params.name, request.params.version);
  app.get('/v2/models/:name', { schema: { tags, summary: 'Model metadata (its newest ready version).' } }, metadata);
  app.get('/v2/models/:name/versions/:version', { schema: { tags, summary: 'Model metadata of one version.' } }, metadata);

  const modelReady = async (request: FastifyRequest<{ Params: ModelParams }>, reply: FastifyReply) => {
    const answer = oip.modelReady(request.params.name, request.params.version);
    return reply.code(answer.ready ? 200 : 503).send(answer);
  };
  app.get('/v2/models/:name/ready', { schema: { tags, summary: 'Model ready: 200 or 503, {"name","ready"}.' } }, modelReady);
  app.get('/v2/models/:name/versions/:version/ready', { schema: { tags, summary: 'Model version ready: 200 or 503.' } }, modelReady);

  const infer = async (request: FastifyRequest<{ Params: ModelParams }>, reply: FastifyReply) => {
    // Same route key header and deadline header as the JSON API; the body is the $inference_request.
    const call = httpCall(request, reply, request.params.name, request.params.version, request.body);
    return oip.infer({
      model: call.model,
      version: call.version,
      routeKey: call.routeKey,
      requestId: call.requestId,
      timeoutMs: call.timeoutMs,
      get signal() {
        return call.signal;
      },
      request: call.payload,
      onRoute: (route) => void reply.header(ROUTE_HEADER, route),
    });
  };
  const inferSchema = (summary: string) => ({
    tags,
    summary,
    body: { description: '$inference_request: {"id"?, "parameters"?, "inputs": [{name, shape, datatype, data}], "outputs"?}', type: 'object', additionalProperties: true },
  });
  // The body schema only documents; every check is in parseInferRequest, whose errors name the field.
  const noValidation = { validatorCompiler: () => () => true };
  // Clients of the binary tensor extension (tritonclient's default) learn at once what to change,
  // before their non-JSON body meets the JSON parser.
  const jsonTensorsOnly = async (request: FastifyRequest) => {
    if (request.headers['inference-header-content-length'] !== undefined) {
      throw new InvalidInput('binary tensor data is not supported by this server: send JSON tensors ("data" arrays; binary_data=False in tritonclient)');
    }
  };
  const inferRoute = { onRequest: jsonTensorsOnly, ...noValidation };
  app.post<{ Params: ModelParams }>('/v2/models/:name/infer', { schema: inferSchema('Inference (newest ready version).'), ...inferRoute }, infer);
  app.post<{ Params: ModelParams }>('/v2/models/:name/versions/:version/infer', { schema: inferSchema('Inference with one version.'), ...inferRoute }, infer);

  // Model repository extension (mutating: admin token when VIGIL_ADMIN_TOKEN is set).
  // onRequest: an unauthenticated request is refused before its body is even read.
  const repositoryRoute = { onRequest: admin, ...noValidation };
  app.post<{ Body: { ready?: unknown } | undefined }>(
    '/v2/repository/index',
    { schema: { tags, summary: 'Every model version and its state (READY, LOADING, UNAVAILABLE); {"ready": true} for ready ones only.' }, ...repositoryRoute },
    async (request) => {
      const body = request.body ?? {};
      if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new InvalidInput('the body must be a JSON object, e.g. {"ready": true}');
      if (body.ready !== undefined && typeof body.ready !== 'boolean') throw new InvalidInput('"ready" must be true or false');
      return oip.repositoryIndex(body.ready === true);
    },
  );
  app.post<{ Params: { name: string } }>(
    '/v2/repository/models/:name/load',
    { schema: { tags, summary: 'Re-read the model folder and load what changed (idempotent).' }, ...repositoryRoute },
    async (request) => {
      const versions = await oip.repositoryLoad(request.params.name);
      request.log.info({ model: request.params.name, versions: versions.map((v) => v.version) }, 'repository: model loaded');
      return {};
    },
  );
  app.post<{ Params: { name: string } }>(
    '/v2/repository/models/:name/unload',
    { schema: { tags, summary: 'Drain queued requests, then release the model (idempotent).' }, ...repositoryRoute },
    async (request) => {
      await oip.repositoryUnload(request.params.name);
      request.log.info({ model: request.params.name }, 'repository: model unloaded');
      return {};
    },
  );
}
