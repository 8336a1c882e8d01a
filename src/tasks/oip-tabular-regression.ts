import { tabularSettings, type TabularInput } from './tabular-regression.js';
import { batchRows, floatData, type OipCodec } from './oip-tensors.js';

/**
 * Tabular regression over the Open Inference Protocol: `features` FP32 [N,F], each row in the
 * spec's feature order (metadata `properties.features`, a JSON array of names, with
 * `properties.feature_units`), raw readings as the JSON API takes them (any standardisation
 * stays on the server or in the graph). Output: FP32 [N,1] in `properties.target_unit`, named
 * as the spec's first output (air-quality: `prediction`), or `value` when the spec names none.
 */
const outputName = (spec: { outputs?: { name: string }[] }) => spec.outputs?.[0]?.name ?? 'value';

export const tabularRegressionOip: OipCodec<TabularInput> = {
  metadata(spec) {
    const { features, target } = tabularSettings(spec);
    return {
      inputs: [{ name: 'features', datatype: 'FP32', shape: [-1, features.length] }],
      outputs: [{ name: outputName(spec), datatype: 'FP32', shape: [-1, 1] }],
      // Property values must be strings; names and units may hold commas, so lists are JSON arrays.
      properties: {
        task: spec.task,
        features: JSON.stringify(features.map((f) => f.name)),
        feature_units: JSON.stringify(features.map((f) => f.unit ?? '')),
        target: target.name,
        target_unit: target.unit ?? '',
      },
    };
  },
  decode(inputs, spec) {
    const tensor = inputs.get('features')!;
    const names = tabularSettings(spec).features.map((f) => f.name);
    return batchRows(floatData(tensor), tensor.shape).map((row, i) => ({
      features: Object.fromEntries(names.map((name, j) => [name, row[j]])),
      field: `features[${i}]`,
    }));
  },
  encode(predictions, spec) {
    return [{ name: outputName(spec), datatype: 'FP32', shape: [predictions.length, 1], data: predictions.map((p) => p.value ?? Number.NaN) }];
  },
};
