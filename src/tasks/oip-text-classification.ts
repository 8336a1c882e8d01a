import { InvalidInput } from '../errors.js';
import type { ModelSpec, TensorSpec } from '../models/spec.js';
import { stringData, classificationOutputMetadata, classificationOutputs, type OipCodec } from './oip-tensors.js';

/**
 * Text classification over the Open Inference Protocol, "text in" style (what MLServer's
 * Hugging Face runtime and Triton python-backend deployments do): the client sends raw strings
 * as `text` BYTES [N] (or [N,1]) and the server tokenizes, exactly as for the JSON API.
 * Outputs: `label` BYTES [N] and `probabilities` FP32 [N,C] in the order of the spec's labels.
 */

function classCount(spec: ModelSpec, signature: { outputs: TensorSpec[] }): number {
  if (spec.labels && spec.labels.length > 0) return spec.labels.length;
  return signature.outputs[0]?.shape[1] ?? -1;
}

export const textClassificationOip: OipCodec<string> = {
  metadata(spec, signature) {
    return {
      inputs: [{ name: 'text', datatype: 'BYTES', shape: [-1], alsoAccepts: [[-1, 1]] }],
      outputs: classificationOutputMetadata(classCount(spec, signature)),
      properties: { task: spec.task, ...(spec.labels ? { labels: spec.labels.join(',') } : {}) },
    };
  },
  decode(inputs) {
    const text = inputs.get('text')!;
    return stringData(text).map((value, i) => {
      if (value.trim() === '') throw new InvalidInput(`input "text": data[${i}] must not be empty`);
      return value;
    });
  },
  encode(predictions, spec) {
    return classificationOutputs(predictions, spec.labels ?? []);
  },
};
