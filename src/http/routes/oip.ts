import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { InvalidInput } from '../../errors.js';
import { acceptEmptyJsonBodies, adminGuard, adminTokenFromEnv, warnIfUnprotected } from '../admin-auth.js';
import { httpCall } from '../call.js';
import type { ServerContext } from '../context.js';
import { ROUTE_HEADER } from '../route-key.js';
import { oip as schemas } from '../schemas/oip.js';

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


  app.get('/v2/health/live', { schema: schemas.live }, async () => ({ live: oip.serverLive() }));

  app.get('/v2/health/ready', { schema: schemas.ready }, async (_request, reply) => {
    const ready = oip.serverReady();
    return reply.code(ready ? 200 : 503).send({ ready });
  });

  app.get('/v2', { schema: schemas.server }, async () => oip.serverMetadata(context.version));

  const metadata = async (request: FastifyRequest<{ Params: ModelParams }>) => oip.modelMetadata(request.params.name, request.params.version);
  app.get('/v2/models/:name', { schema: schemas.metadata }, metadata);
  app.get('/v2/models/:name/versions/:version', { schema: schemas.versionMetadata }, metadata);

  const modelReady = async (request: FastifyRequest<{ Params: ModelParams }>, reply: FastifyReply) => {
    const answer = oip.modelReady(request.params.name, request.params.version);
    return reply.code(answer.ready ? 200 : 503).send(answer);
  };
  app.get('/v2/models/:name/ready', { schema: schemas.modelReady }, modelReady);
  app.get('/v2/models/:name/versions/:version/ready', { schema: schemas.versionReady }, modelReady);

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
  app.post<{ Params: ModelParams }>('/v2/models/:name/infer', { schema: schemas.infer, ...inferRoute }, infer);
  app.post<{ Params: ModelParams }>('/v2/models/:name/versions/:version/infer', { schema: schemas.versionInfer, ...inferRoute }, infer);

  // Model repository extension (mutating: admin token when VIGIL_ADMIN_TOKEN is set).
  // onRequest: an unauthenticated request is refused before its body is even read.
  const repositoryRoute = { onRequest: admin, ...noValidation };
  app.post<{ Body: { ready?: unknown } | undefined }>(
    '/v2/repository/index',
    { schema: schemas.repositoryIndex, ...repositoryRoute },
    async (request) => {
      const body = request.body ?? {};
      if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new InvalidInput('the body must be a JSON object, e.g. {"ready": true}');
      if (body.ready !== undefined && typeof body.ready !== 'boolean') throw new InvalidInput('"ready" must be true or false');
      return oip.repositoryIndex(body.ready === true);
    },
  );
  app.post<{ Params: { name: string } }>(
    '/v2/repository/models/:name/load',
    { schema: schemas.repositoryLoad, ...repositoryRoute },
    async (request) => {
      const versions = await oip.repositoryLoad(request.params.name);
      request.log.info({ model: request.params.name, versions: versions.map((v) => v.version) }, 'repository: model loaded');
      return {};
    },
  );
  app.post<{ Params: { name: string } }>(
    '/v2/repository/models/:name/unload',
    { schema: schemas.repositoryUnload, ...repositoryRoute },
    async (request) => {
      await oip.repositoryUnload(request.params.name);
      request.log.info({ model: request.params.name }, 'repository: model unloaded');
      return {};
    },
  );
}
