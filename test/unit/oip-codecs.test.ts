import { describe, expect, it } from 'vitest';
import { applyClassification } from '../../src/serving/oip/classification.js';
import type { ModelSpec } from '../../src/models/spec.js';
import { imageClassificationOip } from '../../src/tasks/oip-image-classification.js';
import { tabularRegressionOip } from '../../src/tasks/oip-tabular-regression.js';
import type { OipInput } from '../../src/tasks/oip-tensors.js';
import { textClassificationOip } from '../../src/tasks/oip-text-classification.js';
import { textGenerationOip } from '../../src/tasks/oip-text-generation.js';

const tensor = (name: string, datatype: OipInput['datatype'], shape: number[], data: OipInput['data']) => new Map([[name, { name, datatype, shape, data }]]);
const noSignature = { inputs: [], outputs: [] };

describe('text-classification codec', () => {
  const spec = { task: 'text-classification', labels: ['NEGATIVE', 'POSITIVE'] } as unknown as ModelSpec;

  it('describes text BYTES in, label and probabilities out with the class count of the labels', () => {
    const meta = textClassificationOip.metadata(spec, noSignature);
    expect(meta.inputs).toEqual([{ name: 'text', datatype: 'BYTES', shape: [-1], alsoAccepts: [[-1, 1]] }]);
    expect(meta.outputs[1]).toEqual({ name: 'probabilities', datatype: 'FP32', shape: [-1, 2] });
  });

  it('one input per string; probabilities in label order whatever the scores object order', () => {
    expect(textClassificationOip.decode(tensor('text', 'BYTES', [2, 1], ['a', 'b']), spec)).toEqual(['a', 'b']);
    const outputs = textClassificationOip.encode([{ label: 'POSITIVE', scores: { POSITIVE: 0.9, NEGATIVE: 0.1 } }], spec, textClassificationOip.metadata(spec, noSignature));
    expect(outputs).toEqual([
      { name: 'label', datatype: 'BYTES', shape: [1], data: ['POSITIVE'] },
      { name: 'probabilities', datatype: 'FP32', shape: [1, 2], data: [0.1, 0.9] },
    ]);
  });
});

describe('image-classification codec', () => {
  const spec = { task: 'image-classification', labels: ['0', '1'], preprocessing: { image: { width: 2, height: 2 } } } as unknown as ModelSpec;

  it('takes [N,H*W] and [N,1,H,W], one Float32Array row per image', () => {
    expect(imageClassificationOip.metadata(spec, noSignature).inputs[0]).toEqual({ name: 'pixels', datatype: 'FP32', shape: [-1, 4], alsoAccepts: [[-1, 1, 2, 2], [-1, 2, 2]] });
    const rows = imageClassificationOip.decode(tensor('pixels', 'FP32', [2, 1, 2, 2], [0, 0.25, 0.5, 1, 1, 1, 0, 0]), spec);
    expect(rows.map((r) => Array.from((r as { pixels: Float32Array }).pixels))).toEqual([[0, 0.25, 0.5, 1], [1, 1, 0, 0]]);
  });

  it('refuses values outside 0..1, naming the element', () => {
    expect(() => imageClassificationOip.decode(tensor('pixels', 'FP32', [1, 4], [0, 0, 2, 0]), spec)).toThrow(/input "pixels": data\[2\] = 2 is outside 0\.\.1/);
  });
});

describe('tabular-regression codec', () => {
  const spec = { task: 'tabular-regression', outputs: [{ name: 'prediction' }], preprocessing: { features: [{ name: 'b', index: 1 }, { name: 'a', index: 0, unit: 'mg' }], target: { name: 'CO', unit: 'mg/m^3' } } } as unknown as ModelSpec;

  it('names columns in graph order and the output as the spec does', () => {
    const meta = tabularRegressionOip.metadata(spec, noSignature);
    expect(meta.inputs[0]!.shape).toEqual([-1, 2]);
    expect(meta.outputs).toEqual([{ name: 'prediction', datatype: 'FP32', shape: [-1, 1] }]);
    expect(meta.properties).toMatchObject({ features: '["a","b"]', feature_units: '["mg",""]', target: 'CO', target_unit: 'mg/m^3' });
    expect(tabularRegressionOip.decode(tensor('features', 'FP32', [1, 2], [5, 6]), spec)).toEqual([{ features: { a: 5, b: 6 }, field: 'features[0]' }]);
    expect(tabularRegressionOip.encode([{ value: 1.5 }, { value: 2 }], spec, meta)).toEqual([{ name: 'prediction', datatype: 'FP32', shape: [2, 1], data: [1.5, 2] }]);
  });
});

describe('text-generation codec', () => {
  it('checks each prompt like the JSON API and names the element', () => {
    const spec = { task: 'text-generation' } as unknown as ModelSpec;
    expect(textGenerationOip.decode(tensor('prompt', 'BYTES', [1], ['hello']), spec)).toEqual([{ prompt: 'hello' }]);
    expect(() => textGenerationOip.decode(tensor('prompt', 'BYTES', [2], ['ok', 'x'.repeat(5000)]), spec)).toThrow(/input "prompt": data\[1\]: "prompt" has 5000 characters/);
  });
});

describe('classification extension', () => {
  const probabilities = { name: 'probabilities', datatype: 'FP32' as const, shape: [2, 3], data: [0.2, 0.7, 0.1, 0.5, 0.25, 0.25] };

  it('top-k per row, best first, ties by index, with labels', () => {
    const [top] = applyClassification([probabilities], [{ name: 'probabilities', parameters: { classification: 2 } }], ['a', 'b', 'c']);
    expect(top).toEqual({ name: 'probabilities', datatype: 'BYTES', shape: [2, 2], data: ['0.7:1:b', '0.2:0:a', '0.5:0:a', '0.25:1:b'] });
  });

  it('k larger than the classes is capped; without labels the label part is left out; unrequested outputs stay', () => {
    const [top] = applyClassification([probabilities], [{ name: 'probabilities', parameters: { classification: 9 } }], []);
    expect(top!.shape).toEqual([2, 3]);
    expect(top!.data[0]).toBe('0.7:1');
    expect(applyClassification([probabilities], undefined, [])).toEqual([probabilities]);
  });
});
