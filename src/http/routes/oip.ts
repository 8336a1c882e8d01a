import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { InvalidInput } from '../../errors.js';
import { acceptEmptyJsonBodies, adminGuard, adminTokenFromEnv, warnIfUnprotected } from '../admin-auth.js';
import { BINARY_HEADER, binaryOutputs, decodeBinaryRequest, encodeBinaryResponse } from '../binary-tensors.js';
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
    // Same route key header and deadline header as the JSON API; the body is the $inference_request,
    // or the binary tensor extension's JSON header and tensor bytes.
    const body = Buffer.isBuffer(request.body) ? decodeBinaryRequest(request.body, request.headers[BINARY_HEADER]) : request.body;
    const answer = await oip.infer(httpCall(request, reply, request.params.name, request.params.version, body, (route) => void reply.header(ROUTE_HEADER, route)));
    const binary = binaryOutputs(body);
    const encoded = binary && encodeBinaryResponse(answer, binary);
    if (!encoded) return answer;
    return reply.header('content-type', 'application/octet-stream').header(BINARY_HEADER, String(encoded.headerLength)).send(encoded.body);
  };
  // The body schema only documents; every check is in parseInferRequest, whose errors name the field.
  const noValidation = { validatorCompiler: () => () => true };
  const inferRoute = { ...noValidation };
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
