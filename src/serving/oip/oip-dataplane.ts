import type { OipOutput, OipTensorMetadata } from '../../tasks/oip-tensors.js';
import type { CallControl, CallTarget, Dataplane, InferenceCall } from '../dataplane.js';
import type { IndexEntry } from '../lifecycle.js';
import { withLazySignal } from '../lazy-signal.js';
import type { RouteKind } from '../routing-metrics.js';
import { applyClassification, classificationCount } from './classification.js';
import { checkRequestedOutputs, matchInputs, parseInferRequest, selectOutputs, type InferRequest } from './infer-request.js';
import { codecOf, metadataOf, platformOf, publicTensor } from './model-metadata.js';

/**
 * The Open Inference Protocol (KServe V2) over the dataplane, for every transport: REST
 * (src/http/routes/oip.ts) and gRPC call these entry points with requests their wire format
 * already decoded, and encode what they return. Tensor checks, each task's codec, requested
 * outputs and Triton's classification extension live here, once.
 *
 * Choices the protocol leaves open (docs/oip.md): unknown model or version 404, bad request
 * 400 naming the field, not ready 503; platform `onnx_onnxv1` (local) or `remote`; `parameters`
 * values must be string, number or boolean, and the only one read is the output parameter
 * `classification` (other keys, such as Triton's `binary_data`, are accepted and ignored).
 */

export const OIP_SERVER_NAME = 'vigil';
/** Over REST; gRPC reports its own (src/grpc/inference-service.ts). */
export const OIP_EXTENSIONS = ['model_repository', 'classification', 'binary_tensor_data'];

export interface OipModelMetadataResponse {
  name: string;
  versions: string[];
  platform: string;
  inputs: OipTensorMetadata[];
  outputs: OipTensorMetadata[];
  properties?: Record<string, string>;
}

export interface OipInferResponse {
  model_name: string;
  model_version: string;
  id?: string;
  outputs: OipOutput[];
}

/**
 * One inference call. `request` is shaped as the protocol's `$inference_request`: `{id?,
 * parameters?, inputs: [{name, shape, datatype, data, parameters?}], outputs?: [{name,
 * parameters?}]}`, where `data` is flat (or nested, as JSON allows) and parameter values are
 * strings, numbers or booleans. It is checked here field by field (400 naming the field), so a
 * transport only maps its wire format onto that shape (gRPC: the typed `contents` to `data`,
 * `InferParameter` oneofs to plain values).
 */
export interface OipCallTarget extends CallTarget, CallControl {
  onRoute?(route: RouteKind): void;
}

/** The call and the body of an `$inference_request` (named as the JSON API's call names it). */
export interface OipInferCall extends OipCallTarget {
  payload: unknown;
}

export class OipDataplane {
  constructor(private readonly dataplane: Dataplane) {}

  serverMetadata(serverVersion: string): { name: string; version: string; extensions: string[] } {
    return { name: OIP_SERVER_NAME, version: serverVersion, extensions: OIP_EXTENSIONS };
  }

  /** Server live: the process answers (never touches a model). */
  serverLive(): boolean {
    return true;
  }

  serverReady(): boolean {
    return this.dataplane.ready;
  }

  modelReady(name: string, version?: string): { name: string; ready: boolean } {
    return this.dataplane.modelReady(name, version);
  }

  /** Metadata of a version, or of the version that answers unaddressed calls (the champion). */
  modelMetadata(name: string, version?: string): OipModelMetadataResponse {
    const model = this.dataplane.model(name, version);
    const described = metadataOf(model);
    return {
      name: model.name,
      versions: this.dataplane.versions(model.name),
      platform: platformOf(model),
      inputs: described.inputs.map(publicTensor),
      outputs: described.outputs.map(publicTensor),
      ...(described.properties ? { properties: { version: model.version, ...described.properties } } : {}),
    };
  }

  /**
   * Inference: the same version choice as the JSON API (champion, canary, sticky key, shadow),
   * but no fallback model (a stand-in could speak other tensors).
   */
  async infer(call: OipInferCall): Promise<OipInferResponse> {
    return this.inferDecoded(call, parseInferRequest(call.payload));
  }

  /**
   * Inference from a request a transport already decoded and checked into the parsed form
   * (gRPC: src/grpc/tensors.ts builds it from typed or raw contents without a JSON detour).
   */
  async inferDecoded(call: OipCallTarget, request: InferRequest): Promise<OipInferResponse> {
    for (const requested of request.outputs ?? []) classificationCount(requested);
    const answer = await this.dataplane.infer(
      coreCall(call, request),
      (model, body) => {
        const codec = codecOf(model);
        const described = metadataOf(model);
        checkRequestedOutputs(body, described);
        return codec.decode(matchInputs(body, described), model.spec);
      },
      { useFallback: false },
    );
    const { model } = answer;
    const encoded = codecOf(model).encode(answer.result, model.spec, metadataOf(model));
    return {
      model_name: model.name,
      model_version: model.version,
      ...(request.id !== undefined ? { id: request.id } : {}),
      outputs: applyClassification(selectOutputs(encoded, request.outputs), request.outputs, model.spec.labels ?? []),
    };
  }

  // ---- model repository extension -------------------------------------------------------------

  repositoryIndex(onlyReady: boolean): IndexEntry[] {
    return this.dataplane.repository.index(onlyReady);
  }

  repositoryLoad(name: string): Promise<IndexEntry[]> {
    return this.dataplane.repository.load(name);
  }

  repositoryUnload(name: string): Promise<IndexEntry[]> {
    return this.dataplane.repository.unload(name);
  }
}

/** The core's call, with the signal still lazy (lazy-signal.ts): never spread. */
function coreCall(call: OipCallTarget, payload: InferRequest): InferenceCall<InferRequest> {
  return withLazySignal(
    { payload, onRoute: call.onRoute, model: call.model, version: call.version, routeKey: call.routeKey, requestId: call.requestId, timeoutMs: call.timeoutMs },
    () => call.signal,
  );
}
