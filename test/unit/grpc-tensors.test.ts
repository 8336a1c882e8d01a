import { describe, expect, it } from 'vitest';
import { InvalidInput } from '../../src/errors.js';
import { decodeInferRequest, decodeRaw, encodeInferResponse, encodeRaw, splitRawBytes } from '../../src/grpc/tensors.js';
import { grpcCodeOf, MAX_DETAILS_LENGTH, toServiceError } from '../../src/grpc/status.js';
import { DeadlineExceeded, ModelNotFound, NotConfigured, Overloaded, VigilError } from '../../src/errors.js';
import { status } from '@grpc/grpc-js';

/**
 * The gRPC tensor codec without a server: raw bytes built by hand from the protocol's rules
 * (little-endian, row-major; BYTES as a 4-byte LE length then the bytes) against the elements
 * they stand for, typed contents by datatype, and the errors that name the input.
 */

const le32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
};

describe('raw tensor contents', () => {
  it('BYTES: 4-byte little-endian length, then the bytes, per element', () => {
    const raw = Buffer.concat([le32(2), Buffer.from('hi'), le32(0), le32(3), Buffer.from('€')]);
    expect(decodeRaw(raw, 'BYTES', 3, 'input "t"')).toEqual(['hi', '', '€']);
    expect(encodeRaw(['hi', '', '€'], 'BYTES').equals(raw)).toBe(true);
  });

  it('BYTES: a cut length prefix, a length past the end, or a wrong count name the input', () => {
    expect(() => splitRawBytes(Buffer.from([1, 0]), 'input "t"')).toThrow(/input "t": element 0 is cut short: 2 bytes left/);
    expect(() => decodeRaw(Buffer.concat([le32(9), Buffer.from('abc')]), 'BYTES', 1, 'input "t"')).toThrow(/element 0 says 9 bytes but only 3 remain/);
    expect(() => decodeRaw(Buffer.concat([le32(1), Buffer.from('a')]), 'BYTES', 2, 'input "t"')).toThrow(/holds 2 elements but the raw contents hold 1/);
    expect(() => decodeRaw(Buffer.concat([le32(2), Buffer.from([0xc3, 0x28])]), 'BYTES', 1, 'input "t"')).toThrow(/not valid UTF-8/);
  });

  it('fixed-size datatypes: little-endian in their native size', () => {
    const fp32 = Buffer.alloc(8);
    fp32.writeFloatLE(0.5, 0);
    fp32.writeFloatLE(-2, 4);
    // FP32 comes back as float32 values, not boxed numbers, at any byte offset of the wire buffer.
    expect(decodeRaw(fp32, 'FP32', 2, 'x')).toEqual(Float32Array.of(0.5, -2));
    const unaligned = Buffer.concat([Buffer.from([9]), fp32]).subarray(1);
    expect(unaligned.byteOffset % 4).not.toBe(0);
    expect(decodeRaw(unaligned, 'FP32', 2, 'x')).toEqual(Float32Array.of(0.5, -2));
    expect(decodeRaw(Buffer.from([0x01, 0x00, 0xff, 0xff]), 'INT16', 2, 'x')).toEqual([1, -1]);
    expect(decodeRaw(Buffer.from([1, 0, 1]), 'BOOL', 3, 'x')).toEqual([true, false, true]);
    const i64 = Buffer.alloc(8);
    i64.writeBigInt64LE(-5n);
    expect(decodeRaw(i64, 'INT64', 1, 'x')).toEqual([-5]);
    // FP16 1.0 is 0x3c00; -2.0 is 0xc000.
    expect(decodeRaw(Buffer.from([0x00, 0x3c, 0x00, 0xc0]), 'FP16', 2, 'x')).toEqual([1, -2]);
    for (const [datatype, values] of [['FP32', [0.25, 3]], ['FP64', [0.1, -7]], ['INT32', [-3, 9]], ['UINT8', [0, 255]], ['BOOL', [true, false]], ['UINT64', [2 ** 40]]] as const) {
      expect(Array.from(decodeRaw(encodeRaw([...values], datatype), datatype, values.length, 'x'))).toEqual(values);
    }
  });

  it('a byte count that does not match the shape, a BOOL byte other than 0/1, an INT64 past 2^53', () => {
    expect(() => decodeRaw(Buffer.alloc(6), 'FP32', 2, 'input "p"')).toThrow(/input "p": the shape holds 2 FP32 elements \(8 bytes\) but the raw contents have 6 bytes/);
    expect(() => decodeRaw(Buffer.from([2]), 'BOOL', 1, 'input "b"')).toThrow(/BOOL element 0 is byte 2/);
    const big = Buffer.alloc(8);
    big.writeBigInt64LE(2n ** 60n);
    expect(() => decodeRaw(big, 'INT64', 1, 'input "i"')).toThrow(InvalidInput);
  });
});

describe('ModelInferRequest to the OIP request', () => {
  it('typed contents by datatype, parameters by their oneof', () => {
    const decoded = decodeInferRequest({
      model_name: 'm',
      model_version: '',
      id: 'r1',
      parameters: { flag: { bool_param: true, parameter_choice: 'bool_param' } },
      inputs: [
        { name: 'text', datatype: 'BYTES', shape: [2], contents: { bytes_contents: [Buffer.from('a'), Buffer.from('b')] } },
        { name: 'n', datatype: 'INT32', shape: [1, 2], contents: { int_contents: [1, 2] } },
      ],
      outputs: [{ name: 'probabilities', parameters: { classification: { int64_param: 2, parameter_choice: 'int64_param' } } }],
      raw_input_contents: [],
    });
    expect(decoded.modelVersion).toBeUndefined();
    expect(decoded.raw).toBe(false);
    expect(decoded.request).toEqual({
      id: 'r1',
      parameters: { flag: true },
      inputs: [
        { name: 'text', datatype: 'BYTES', shape: [2], data: ['a', 'b'], parameters: undefined },
        { name: 'n', datatype: 'INT32', shape: [1, 2], data: [1, 2], parameters: undefined },
      ],
      outputs: [{ name: 'probabilities', parameters: { classification: 2 } }],
    });
  });

  it('refuses what does not fit, naming the input', () => {
    const base = { model_name: 'm', inputs: [{ name: 'x', datatype: 'FP32', shape: [2], contents: { fp32_contents: [1, 2] } }] };
    expect(() => decodeInferRequest({ ...base, model_name: '' })).toThrow(/"model_name" must not be empty/);
    expect(() => decodeInferRequest({ ...base, inputs: [{ ...base.inputs[0]!, shape: [3] }] })).toThrow(/input "x": shape \[3\] holds 3 elements but contents has 2/);
    expect(() => decodeInferRequest({ ...base, inputs: [{ ...base.inputs[0]!, datatype: 'FP16', contents: {} }] })).toThrow(/input "x": datatype FP16 has no typed contents field; send it in raw_input_contents/);
    expect(() => decodeInferRequest({ ...base, inputs: [base.inputs[0]!, base.inputs[0]!] })).toThrow(/input "x" is given twice/);
    expect(() => decodeInferRequest({ ...base, raw_input_contents: [Buffer.alloc(8)] })).toThrow(/input "x": "contents" must be empty when raw_input_contents is used/);
    expect(() => decodeInferRequest({ ...base, inputs: [{ ...base.inputs[0]!, shape: [] }] })).toThrow(/input "x": "shape" is missing/);
  });
});

describe('the answer', () => {
  const outputs = [
    { name: 'label', datatype: 'BYTES' as const, shape: [1], data: ['POSITIVE'] },
    { name: 'probabilities', datatype: 'FP32' as const, shape: [1, 2], data: [0.25, 0.75] },
  ];
  it('typed: contents per output; raw: raw_output_contents in output order, no contents', () => {
    const typed = encodeInferResponse({ modelName: 'm', modelVersion: '1' }, outputs, false);
    expect(typed.outputs[0]!.contents).toEqual({ bytes_contents: [Buffer.from('POSITIVE')] });
    expect(typed.outputs[1]!.contents).toEqual({ fp32_contents: [0.25, 0.75] });
    expect(typed.raw_output_contents).toEqual([]);
    const raw = encodeInferResponse({ modelName: 'm', modelVersion: '1', id: 'q' }, outputs, true);
    expect(raw.id).toBe('q');
    expect(raw.outputs.every((o) => o.contents === undefined)).toBe(true);
    expect(raw.raw_output_contents[0]!.equals(Buffer.concat([le32(8), Buffer.from('POSITIVE')]))).toBe(true);
    expect(decodeRaw(raw.raw_output_contents[1]!, 'FP32', 2, 'x')).toEqual(Float32Array.of(0.25, 0.75));
  });
});

describe('status codes', () => {
  it('map from whose fault the error says it is', () => {
    expect(grpcCodeOf(new InvalidInput('x'))).toBe(status.INVALID_ARGUMENT);
    expect(grpcCodeOf(new ModelNotFound('m'))).toBe(status.NOT_FOUND);
    expect(grpcCodeOf(new Overloaded('busy'))).toBe(status.UNAVAILABLE);
    expect(grpcCodeOf(new NotConfigured('no token'))).toBe(status.UNAVAILABLE);
    expect(grpcCodeOf(new DeadlineExceeded('late'))).toBe(status.DEADLINE_EXCEEDED);
    expect(grpcCodeOf(new VigilError(413, 'payload_too_large', 'big'))).toBe(status.RESOURCE_EXHAUSTED);
    expect(grpcCodeOf(new VigilError(499, 'client_closed', 'gone'))).toBe(status.CANCELLED);
    expect(grpcCodeOf(new Error('bug'))).toBe(status.INTERNAL);
  });

  it('cut a message that quotes a huge name to MAX_DETAILS_LENGTH, never between surrogate halves', () => {
    const short = toServiceError(new InvalidInput('input "x": wrong'), 'r1');
    expect(short.details).toBe('input "x": wrong');
    const long = toServiceError(new InvalidInput(`input "${'x'.repeat(100_000)}": wrong`), 'r1');
    expect(long.details!.length).toBeLessThanOrEqual(MAX_DETAILS_LENGTH);
    expect(long.details!.endsWith('…')).toBe(true);
    // A pair (😀 is two UTF-16 units) that the cut would split is dropped whole.
    const pair = toServiceError(new InvalidInput(`${'x'.repeat(MAX_DETAILS_LENGTH - 2)}😀${'y'.repeat(10)}`), 'r1');
    expect(() => encodeURI(pair.details!)).not.toThrow();
  });
});
