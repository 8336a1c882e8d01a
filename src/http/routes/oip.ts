import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { InvalidInput, VigilError } from '../../errors.js';
import type { ModelVersion } from '../../serving/model-version.js';
import { oipCodecFor } from '../../tasks/index.js';
import type { OipCodec, OipModelMetadata, OipTensorMetadata } from '../../tasks/oip-tensors.js';
import { acceptEmptyJsonBodies, adminGuard, adminTokenFromEnv, warnIfUnprotected } from '../admin-auth.js';
import type { ServerContext } from '../context.js';
import { applyClassification, classificationCount } from '../oip/classification.js';
import { checkRequestedOutputs, matchInputs, parseInferRequest, selectOutputs } from '../oip/infer-request.js';
import { ModelRepository } from '../oip/model-repository.js';
import { requestRouteKey, ROUTE_HEADER } from '../route-key.js';
import { predictOptions } from '../sse.js';
import { requestTimeoutMs } from './models.js';

/**
 * The Open Inference Protocol (KServe V2) over REST: health, server and model metadata,
 * inference, and Triton's model repository extension. Routes are generic; each task's codec
 * (src/tasks/oip-*.ts) says which tensors its models take and give. Inference goes through the
 * same ModelVersion.predict as the JSON API: same batcher, metrics and logs.
 *
 * Choices the protocol leaves open (docs/oip.md has the full list):
 * - not ready answers 503 with `{"ready": false}` (readiness probes read the status code);
 * - unknown model or version: 404; bad request: 400; model not ready: 503;
 * - platform: `onnx_onnxv1` for onnxruntime models, `remote` for remote ones;
 * - `parameters` values must be string, number or boolean (else 400); the only one read is the
 *   output parameter `classification` (Triton's extension); other keys are ignored.
 */

type ModelParams = { name: string; version?: string };

export const OIP_EXTENSIONS = ['model_repository', 'classification'];
const SERVER_NAME = 'vigil';

/** Remote models only forward requests; everything else runs in onnxruntime here. */
function platformOf(model: ModelVersion): string {
  return model.spec.runtime === 'remote' ? 'remote' : 'onnx_onnxv1';
}

class NotServableOverOip extends VigilError {
  constructor(model: ModelVersion) {
    super(400, 'not_supported', `model "${model.name}" (task ${model.spec.task}) has no tensor interface over /v2; use POST /v1/models/${model.name}/predict`);
  }
}

/** The codec's metadata, computed once per loaded version (specs do not change under a version). */
const metadataCache = new WeakMap<ModelVersion, OipModelMetadata>();
function metadataOf(model: ModelVersion, codec: OipCodec | undefined): OipModelMetadata {
  let metadata = metadataCache.get(model);
  if (metadata) return metadata;
  const signature = model.signature();
  if (!codec) return { inputs: signature.inputs as OipTensorMetadata[], outputs: signature.outputs as OipTensorMetadata[] };
  try {
    metadata = codec.metadata(model.spec, signature);
  } catch (error) {
    // A spec the codec cannot read also failed to load; the message is in the model's reason.
    throw new VigilError(503, 'model_not_ready', `model "${model.name}" cannot describe its tensors: ${(error as Error).message}`);
  }
  // The signature is the graph's once loaded; cache only then, so the classes count is right.
  if (model.state === 'ready') metadataCache.set(model, metadata);
  return metadata;
}

const publicTensor = ({ name, datatype, shape }: OipTensorMetadata) => ({ name, datatype, shape });

export async function oipRoutes(app: FastifyInstance, context: ServerContext): Promise<void> {
  const { registry, lifecycle, limits, logger, router } = context;
  const repository = new ModelRepository(registry);
  const token = adminTokenFromEnv();
  warnIfUnprotected(token, logger, 'the model repository API (POST /v2/repository/...: load and unload models)');
  const admin = adminGuard(token);

  // Repository clients post without a body (or `{}`); an empty JSON body means "no options" here.
  acceptEmptyJsonBodies(app);

  const tags = ['oip'];
  const serverReady = () => registry.ready && !lifecycle.draining;

  app.get('/v2/health/live', { schema: { tags, summary: 'Server live: the process answers (never touches models).' } }, async () => ({ live: true }));

  app.get('/v2/health/ready', { schema: { tags, summary: 'Server ready: 200 {"ready":true}, else 503 {"ready":false} (loading, draining).' } }, async (_request, reply) => {
    const ready = serverReady();
    return reply.code(ready ? 200 : 503).send({ ready });
  });

  app.get('/v2', { schema: { tags, summary: 'Server metadata: name, version, extensions.' } }, async () => ({
    name: SERVER_NAME,
    version: context.version,
    extensions: OIP_EXTENSIONS,
  }));

  const modelOf = (request: FastifyRequest<{ Params: ModelParams }>) => registry.get(request.params.name, request.params.version);

  const metadata = async (request: FastifyRequest<{ Params: ModelParams }>) => {
    const model = modelOf(request);
    const described = metadataOf(model, oipCodecFor(model.spec.task));
    return {
      name: model.name,
      versions: registry.versions(model.name).map((v) => v.version),
      platform: platformOf(model),
      inputs: described.inputs.map(publicTensor),
      outputs: described.outputs.map(publicTensor),
      ...(described.properties ? { properties: { version: model.version, ...described.properties } } : {}),
    };
  };
  app.get('/v2/models/:name', { schema: { tags, summary: 'Model metadata (its newest ready version).' } }, metadata);
  app.get('/v2/models/:name/versions/:version', { schema: { tags, summary: 'Model metadata of one version.' } }, metadata);

  const modelReady = async (request: FastifyRequest<{ Params: ModelParams }>, reply: FastifyReply) => {
    const model = modelOf(request);
    const ready = model.state === 'ready' && !lifecycle.draining;
    return reply.code(ready ? 200 : 503).send({ name: model.name, ready });
  };
  app.get('/v2/models/:name/ready', { schema: { tags, summary: 'Model ready: 200 or 503, {"name","ready"}.' } }, modelReady);
  app.get('/v2/models/:name/versions/:version/ready', { schema: { tags, summary: 'Model version ready: 200 or 503.' } }, modelReady);

  const infer = async (request: FastifyRequest<{ Params: ModelParams }>, reply: FastifyReply) => {
    // The same version choice as the JSON API (champion, canary, sticky key from the header, shadow).
    const decision = router.choose(request.params.name, { version: request.params.version, routeKey: requestRouteKey(request), requestId: request.id });
    const { model } = decision;
    const codec = oipCodecFor(model.spec.task);
    if (!codec) throw new NotServableOverOip(model);
    const body = parseInferRequest(request.body);
    const described = metadataOf(model, codec);
    checkRequestedOutputs(body, described);
    for (const requested of body.outputs ?? []) classificationCount(requested);
    const inputs = codec.decode(matchInputs(body, described), model.spec);
    if (inputs.length === 0) throw new InvalidInput('the batch is empty: the first dimension of the inputs is 0');
    if (inputs.length > limits.maxBatchInputs) {
      throw new InvalidInput(`the batch has ${inputs.length} rows; at most ${limits.maxBatchInputs} are allowed per request`, 'too_many_inputs');
    }
    // Same deadline header as the JSON API; no fallback model here: a stand-in could speak other tensors.
    const timeoutMs = requestTimeoutMs(request);
    void reply.header(ROUTE_HEADER, decision.route);
    const { result: predictions } = await router.predict(decision, inputs, predictOptions(reply, { timeoutMs, requestId: request.id }), { useFallback: false });
    return {
      model_name: model.name,
      model_version: model.version,
      ...(body.id !== undefined ? { id: body.id } : {}),
      outputs: applyClassification(selectOutputs(codec.encode(predictions, model.spec, described), body.outputs), body.outputs, model.spec.labels ?? []),
    };
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
      return repository.index(body.ready === true);
    },
  );
  app.post<{ Params: { name: string } }>(
    '/v2/repository/models/:name/load',
    { schema: { tags, summary: 'Re-read the model folder and load what changed (idempotent).' }, ...repositoryRoute },
    async (request) => {
      const versions = await repository.load(request.params.name);
      request.log.info({ model: request.params.name, versions: versions.map((v) => v.version) }, 'repository: model loaded');
      return {};
    },
  );
  app.post<{ Params: { name: string } }>(
    '/v2/repository/models/:name/unload',
    { schema: { tags, summary: 'Drain queued requests, then release the model (idempotent).' }, ...repositoryRoute },
    async (request) => {
      await repository.unload(request.params.name);
      request.log.info({ model: request.params.name }, 'repository: model unloaded');
      return {};
    },
  );
}
