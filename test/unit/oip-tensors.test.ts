import { describe, expect, it } from 'vitest';
import { checkRequestedOutputs, matchInputs, parseInferRequest, parseParameters, selectOutputs } from '../../src/serving/oip/infer-request.js';
import { batchRows, checkElements, flattenTensorData, shapeMatches, type OipInput, type OipModelMetadata } from '../../src/tasks/oip-tensors.js';

const metadata: OipModelMetadata = {
  inputs: [{ name: 'pixels', datatype: 'FP32', shape: [-1, 4], alsoAccepts: [[-1, 1, 2, 2]] }],
  outputs: [
    { name: 'label', datatype: 'BYTES', shape: [-1] },
    { name: 'probabilities', datatype: 'FP32', shape: [-1, 3] },
  ],
};

const tensor = (over: Partial<Record<string, unknown>> = {}) => ({ name: 'pixels', shape: [2, 4], datatype: 'FP32', data: [0, 1, 2, 3, 4, 5, 6, 7], ...over });

describe('flattenTensorData', () => {
  it('keeps flat data and flattens nested data row-major', () => {
    expect(flattenTensorData([1, 2, 4, 5], 'x')).toEqual([1, 2, 4, 5]);
    expect(flattenTensorData([[1, 2], [4, 5]], 'x')).toEqual([1, 2, 4, 5]);
    expect(flattenTensorData([[[1], [2]], [[3], [4]]], 'x')).toEqual([1, 2, 3, 4]);
    expect(flattenTensorData([['a', 'b']], 'x')).toEqual(['a', 'b']);
    const raw = Float32Array.of(0.5, 1);
    expect(flattenTensorData(raw, 'x')).toBe(raw);
  });

  it('refuses non-arrays, objects and null, naming the input', () => {
    expect(() => flattenTensorData(5, 'x')).toThrow(/input "x": "data" must be an array/);
    expect(() => flattenTensorData([1, { a: 1 }], 'x')).toThrow(/input "x".*object/);
    expect(() => flattenTensorData([[1, null]], 'x')).toThrow(/input "x".*null/);
    expect(() => flattenTensorData([1, null], 'x')).toThrow(/input "x".*null/);
  });
});

describe('checkElements', () => {
  const input = (datatype: OipInput['datatype'], data: OipInput['data']): OipInput => ({ name: 't', datatype, shape: [data.length], data });

  it('accepts values of the datatype', () => {
    expect(() => checkElements(input('FP32', [0.5, -1e10, 3]))).not.toThrow();
    expect(() => checkElements(input('INT64', [-5, 2 ** 40]))).not.toThrow();
    expect(() => checkElements(input('UINT8', [0, 255]))).not.toThrow();
    expect(() => checkElements(input('BOOL', [true, false]))).not.toThrow();
    expect(() => checkElements(input('BYTES', ['a', '']))).not.toThrow();
  });

  it('refuses the wrong JSON type or an out-of-range integer, naming the element', () => {
    expect(() => checkElements(input('FP32', [1, '2']))).toThrow(/input "t": data\[1\] must be a number for datatype FP32/);
    expect(() => checkElements(input('INT32', [1.5]))).toThrow(/data\[0\] = 1.5 is not a INT32/);
    expect(() => checkElements(input('UINT8', [256]))).toThrow(/data\[0\] = 256 is not a UINT8/);
    expect(() => checkElements(input('INT8', [-129]))).toThrow(/INT8/);
    expect(() => checkElements(input('BOOL', [1]))).toThrow(/true or false/);
    expect(() => checkElements(input('BYTES', [1]))).toThrow(/must be a string/);
  });
});

describe('shapes and rows', () => {
  it('matches -1 against any size, and ranks exactly', () => {
    expect(shapeMatches([3, 4], [-1, 4])).toBe(true);
    expect(shapeMatches([3, 5], [-1, 4])).toBe(false);
    expect(shapeMatches([3, 4, 1], [-1, 4])).toBe(false);
  });

  it('splits a batch into rows of equal width, as views on the tensor', () => {
    const tensor = Float32Array.of(1, 2, 3, 4, 5, 6);
    const rows = batchRows(tensor, [3, 2]);
    expect(rows.map((row) => Array.from(row))).toEqual([[1, 2], [3, 4], [5, 6]]);
    expect(rows.every((row) => row.buffer === tensor.buffer)).toBe(true);
    expect(batchRows(Float32Array.of(1, 2, 3, 4), [2, 1, 2]).map((row) => Array.from(row))).toEqual([[1, 2], [3, 4]]);
    expect(batchRows(new Float32Array(0), [0, 2])).toEqual([]);
  });
});

describe('parseInferRequest', () => {
  it('parses id, parameters, inputs (nested data flattened) and requested outputs', () => {
    const request = parseInferRequest({
      id: 'r1',
      parameters: { binary_data_output: false, priority: 2, tag: 'x' },
      inputs: [tensor({ data: [[0, 1, 2, 3], [4, 5, 6, 7]] })],
      outputs: [{ name: 'probabilities', parameters: { binary_data: true } }],
    });
    expect(request.id).toBe('r1');
    expect(request.inputs[0]!.data).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(request.outputs).toEqual([{ name: 'probabilities', parameters: { binary_data: true } }]);
  });

  it('product(shape) != data length is refused, naming the input and both counts', () => {
    expect(() => parseInferRequest({ inputs: [tensor({ shape: [3, 4] })] })).toThrow(/input "pixels": shape \[3,4\] holds 12 elements but "data" has 8/);
    expect(() => parseInferRequest({ inputs: [tensor({ data: [[0, 1, 2, 3]] })] })).toThrow(/holds 8 elements but "data" has 4/);
  });

  it('refuses structural mistakes with messages naming the field', () => {
    expect(() => parseInferRequest(null)).toThrow(/JSON object/);
    expect(() => parseInferRequest({})).toThrow(/"inputs" is missing/);
    expect(() => parseInferRequest({ inputs: {} })).toThrow(/"inputs" must be an array/);
    expect(() => parseInferRequest({ inputs: [] })).toThrow(/must not be empty/);
    expect(() => parseInferRequest({ inputs: [5] })).toThrow(/inputs\[0\] must be an object/);
    expect(() => parseInferRequest({ inputs: [tensor({ name: '' })] })).toThrow(/inputs\[0\]: "name"/);
    expect(() => parseInferRequest({ inputs: [tensor({ datatype: 'float' })] })).toThrow(/input "pixels": unknown datatype "float"/);
    expect(() => parseInferRequest({ inputs: [tensor({ shape: [2, 4.5] })] })).toThrow(/shape\[1\] = 4.5/);
    expect(() => parseInferRequest({ inputs: [tensor({ shape: '2,4' })] })).toThrow(/"shape" must be an array/);
    expect(() => parseInferRequest({ inputs: [tensor(), tensor()] })).toThrow(/given twice/);
    expect(() => parseInferRequest({ id: 1, inputs: [tensor()] })).toThrow(/"id" must be a string/);
    expect(() => parseInferRequest({ inputs: [tensor()], outputs: {} })).toThrow(/"outputs" must be an array/);
    expect(() => parseInferRequest({ inputs: [tensor()], outputs: [{}] })).toThrow(/outputs\[0\]/);
    expect(() => parseInferRequest({ inputs: [tensor()], outputs: [{ name: 'label' }, { name: 'label' }] })).toThrow(/output "label" is requested twice/);
  });

  it('parameters: string, number, boolean only', () => {
    expect(parseParameters({ a: 'x', b: 1, c: false }, 'request')).toEqual({ a: 'x', b: 1, c: false });
    expect(() => parseParameters({ a: { b: 1 } }, 'request')).toThrow(/request parameter "a" must be a string, number or boolean, got object/);
    expect(() => parseParameters({ a: [1] }, 'request')).toThrow(/got array/);
    expect(() => parseParameters({ a: null }, 'request')).toThrow(/got null/);
    expect(() => parseParameters([], 'request')).toThrow(/must be an object/);
  });
});

describe('matchInputs against model metadata', () => {
  it('accepts the metadata shape and the alternative shapes', () => {
    expect(matchInputs(parseInferRequest({ inputs: [tensor()] }), metadata).get('pixels')!.shape).toEqual([2, 4]);
    expect(() => matchInputs(parseInferRequest({ inputs: [tensor({ shape: [2, 1, 2, 2] })] }), metadata)).not.toThrow();
  });

  it('refuses other shapes, other datatypes, unknown and missing inputs, naming them', () => {
    expect(() => matchInputs(parseInferRequest({ inputs: [tensor({ shape: [4, 2] })] }), metadata)).toThrow(/input "pixels": shape \[4,2\] does not match the model's \[-1,4\] or \[-1,1,2,2\]/);
    expect(() => matchInputs(parseInferRequest({ inputs: [tensor({ datatype: 'FP64' })] }), metadata)).toThrow(/input "pixels": datatype FP64 does not match the model's FP32/);
    expect(() => matchInputs(parseInferRequest({ inputs: [tensor({ name: 'image' })] }), metadata)).toThrow(/unknown input "image": this model takes "pixels"/);
    const two: OipModelMetadata = { ...metadata, inputs: [...metadata.inputs, { name: 'mask', datatype: 'FP32', shape: [-1, 4] }] };
    expect(() => matchInputs(parseInferRequest({ inputs: [tensor()] }), two)).toThrow(/missing input "mask"/);
  });
});

describe('outputs', () => {
  const all = [
    { name: 'label', datatype: 'BYTES' as const, shape: [1], data: ['a'] },
    { name: 'probabilities', datatype: 'FP32' as const, shape: [1, 3], data: [0.2, 0.3, 0.5] },
  ];

  it('all outputs by default; requested ones in request order', () => {
    expect(selectOutputs(all, undefined).map((o) => o.name)).toEqual(['label', 'probabilities']);
    expect(selectOutputs(all, [{ name: 'probabilities' }, { name: 'label' }]).map((o) => o.name)).toEqual(['probabilities', 'label']);
    expect(selectOutputs(all, [{ name: 'probabilities' }]).map((o) => o.name)).toEqual(['probabilities']);
  });

  it('an unknown requested output is refused before any work', () => {
    expect(() => checkRequestedOutputs(parseInferRequest({ inputs: [tensor()], outputs: [{ name: 'logits' }] }), metadata)).toThrow(/unknown output "logits": this model gives "label", "probabilities"/);
  });
});
