import { InvalidInput } from '../errors.js';
import { stringData, type OipCodec } from './oip-tensors.js';
import { parseGenerationRequest, type GenerationInput } from './text-generation.js';

/**
 * Text generation (remote chat models) over the Open Inference Protocol, the way MLServer's and
 * Triton's text deployments do it: `prompt` BYTES [N] (or [N,1]) in, `text` BYTES [N] out. Each
 * prompt is checked exactly as the JSON API checks `{"prompt"}`. Streaming and the optional
 * sentiment context stay on the JSON API.
 */
export const textGenerationOip: OipCodec<GenerationInput> = {
  metadata(spec) {
    return {
      inputs: [{ name: 'prompt', datatype: 'BYTES', shape: [-1], alsoAccepts: [[-1, 1]] }],
      outputs: [{ name: 'text', datatype: 'BYTES', shape: [-1] }],
      properties: { task: spec.task },
    };
  },
  decode(inputs) {
    const prompt = inputs.get('prompt')!;
    return stringData(prompt).map((value, i) => {
      try {
        return parseGenerationRequest({ prompt: value }).inputs[0]!;
      } catch (error) {
        if (error instanceof InvalidInput) throw new InvalidInput(`input "prompt": data[${i}]: ${error.message}`);
        throw error;
      }
    });
  },
  encode(predictions) {
    return [{ name: 'text', datatype: 'BYTES', shape: [predictions.length], data: predictions.map((p) => p.text ?? '') }];
  },
};
