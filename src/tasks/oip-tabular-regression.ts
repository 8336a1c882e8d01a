import { tabularSettings, type TabularInput } from './tabular-regression.js';
import { batchRows, floatData, type OipCodec } from './oip-tensors.js';

/**
 * Tabular regression over the Open Inference Protocol: `features` FP32 [N,F], each row in the
 * feature order of the spec (listed with units in the metadata `properties.features`), in the
 * units the JSON API takes (standardisation stays on the server). Output: FP32 [N,1] in the
 * target's unit (`properties.target`), named as the spec's first output (the air-quality model:
 * `prediction`), or `value` when the spec names none.
 */
const outputName = (spec: { outputs?: { name: string }[] }) => spec.outputs?.[0]?.name ?? 'value';

export const tabularRegressionOip: OipCodec<TabularInput> = {
  metadata(spec) {
    const { features, target } = tabularSettings(spec);
    const withUnit = (c: { name: string; unit?: string }) => (c.unit ? `${c.name} [${c.unit}]` : c.name);
    return {
      inputs: [{ name: 'features', datatype: 'FP32', shape: [-1, features.length] }],
      outputs: [{ name: outputName(spec), datatype: 'FP32', shape: [-1, 1] }],
      properties: {
        task: spec.task,
        features: features.map(withUnit).join(', '),
        target: withUnit(target),
      },
    };
  },
  decode(inputs, spec) {
    const tensor = inputs.get('features')!;
    const names = tabularSettings(spec).features.map((f) => f.name);
    const values = Array.from(floatData(tensor));
    return batchRows(values, tensor.shape).map((row, i) => ({
      features: Object.fromEntries(names.map((name, j) => [name, row[j]])),
      field: `features[${i}]`,
    }));
  },
  encode(predictions, spec) {
    return [{ name: outputName(spec), datatype: 'FP32', shape: [predictions.length, 1], data: predictions.map((p) => p.value ?? Number.NaN) }];
  },
};
