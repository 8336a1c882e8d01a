import { InvalidInput } from '../errors.js';
import { imageSettings, type ImageInput } from './image-classification.js';
import { batchRows, classificationOutputMetadata, classificationOutputs, floatData, type OipCodec } from './oip-tensors.js';

/**
 * Image classification over the Open Inference Protocol: `pixels` FP32 [N, H*W] (flat rows, the
 * metadata shape), or [N,1,H,W] / [N,H,W] (the same numbers, channel-first), values in [0,1],
 * bright ink on black. Outputs: `label` BYTES [N] and `probabilities` FP32 [N,C].
 * PNG bytes are only taken by the JSON API (`{"image": "<base64>"}`).
 */
export const imageClassificationOip: OipCodec<ImageInput> = {
  metadata(spec, signature) {
    const { width, height } = imageSettings(spec);
    const classes = spec.labels?.length ?? signature.outputs[0]?.shape[1] ?? -1;
    return {
      inputs: [{ name: 'pixels', datatype: 'FP32', shape: [-1, width * height], alsoAccepts: [[-1, 1, height, width], [-1, height, width]] }],
      outputs: classificationOutputMetadata(classes),
      properties: {
        task: spec.task,
        pixels: `${height}x${width} row-major, values in [0,1], bright ink on black`,
        ...(spec.labels ? { labels: spec.labels.join(',') } : {}),
      },
    };
  },
  decode(inputs) {
    const pixels = inputs.get('pixels')!;
    const values = floatData(pixels);
    const bad = values.findIndex((v) => !(v >= 0 && v <= 1));
    if (bad >= 0) throw new InvalidInput(`input "pixels": data[${bad}] = ${pixels.data[bad]} is outside 0..1 (divide 0..255 values by 255)`);
    return batchRows(values, pixels.shape).map((row, i) => ({ pixels: row, field: `pixels[${i}]` }));
  },
  encode(predictions, spec) {
    return classificationOutputs(predictions, spec.labels ?? []);
  },
};
