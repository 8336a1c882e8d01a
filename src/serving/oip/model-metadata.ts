import { VigilError } from '../../errors.js';
import { oipCodecFor } from '../../tasks/index.js';
import type { OipCodec, OipModelMetadata, OipTensorMetadata } from '../../tasks/oip-tensors.js';
import type { ModelVersion } from '../model-version.js';

/**
 * What a model version looks like over the Open Inference Protocol: its tensors (from its
 * task's codec), its platform, and whether it has a tensor interface at all. Shared by every
 * OIP transport (REST in src/http, gRPC in src/grpc).
 */

/** Remote models only forward requests; everything else runs in onnxruntime here. */
export function platformOf(model: ModelVersion): string {
  return model.spec.runtime === 'remote' ? 'remote' : 'onnx_onnxv1';
}

export class NotServableOverOip extends VigilError {
  constructor(model: ModelVersion) {
    super(400, 'not_supported', `model "${model.name}" (task ${model.spec.task}) has no tensor interface over the Open Inference Protocol; use POST /v1/models/${model.name}/predict`);
  }
}

/** The codec of a model's task, or a 400 naming the JSON API route to use instead. */
export function codecOf(model: ModelVersion): OipCodec {
  const codec = oipCodecFor(model.spec.task);
  if (!codec) throw new NotServableOverOip(model);
  return codec;
}

/** The codec's metadata, computed once per loaded version (specs do not change under a version). */
const metadataCache = new WeakMap<ModelVersion, OipModelMetadata>();

export function metadataOf(model: ModelVersion): OipModelMetadata {
  const cached = metadataCache.get(model);
  if (cached) return cached;
  const signature = model.signature();
  const codec = oipCodecFor(model.spec.task);
  if (!codec) return { inputs: signature.inputs as OipTensorMetadata[], outputs: signature.outputs as OipTensorMetadata[] };
  let metadata: OipModelMetadata;
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

/** A tensor as clients see it (no internal `alsoAccepts`). */
export const publicTensor = ({ name, datatype, shape }: OipTensorMetadata): OipTensorMetadata => ({ name, datatype, shape });
