import { endianness } from 'node:os';
import { InvalidInput } from '../../errors.js';
import type { OipDatatype, OipElements, OipScalar } from '../../tasks/oip-tensors.js';

/**
 * Tensor elements in the protocol's raw form, shared by every transport that carries it: gRPC's
 * raw_input_contents/raw_output_contents and the REST binary tensor extension. Little-endian,
 * row-major, each element in its datatype's native size; BOOL one byte (0 or 1); BYTES each a
 * 4-byte little-endian length followed by that many bytes. Decoded elements are the JSON forms
 * the OIP layer checks (numbers, booleans, strings), so raw and JSON requests share every check;
 * FP32 alone stays a Float32Array (see OipElements), which those checks take as it is.
 */

/** Element size in bytes of fixed-size datatypes in raw form. */
export const ELEMENT_SIZE: Record<Exclude<OipDatatype, 'BYTES'>, number> = {
  BOOL: 1,
  INT8: 1,
  UINT8: 1,
  INT16: 2,
  UINT16: 2,
  FP16: 2,
  INT32: 4,
  UINT32: 4,
  FP32: 4,
  INT64: 8,
  UINT64: 8,
  FP64: 8,
};

const utf8 = new TextDecoder('utf-8', { fatal: true });

export function utf8Text(bytes: Uint8Array, where: string): string {
  try {
    return utf8.decode(bytes);
  } catch {
    throw new InvalidInput(`${where} is not valid UTF-8`);
  }
}

/** IEEE 754 half precision to a number. */
function halfToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 0x1f) return fraction ? Number.NaN : sign * Infinity;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

function bigToNumber(value: bigint, where: string, index: number): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new InvalidInput(`${where}: element ${index} = ${value} is beyond what this server handles exactly (±2^53)`);
  return n;
}

/** BYTES elements in raw form: each a 4-byte little-endian length, then that many bytes. */
export function splitRawBytes(raw: Uint8Array, where: string): Uint8Array[] {
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const elements: Uint8Array[] = [];
  let offset = 0;
  while (offset < raw.byteLength) {
    if (offset + 4 > raw.byteLength) {
      throw new InvalidInput(`${where}: element ${elements.length} is cut short: ${raw.byteLength - offset} bytes left where its 4-byte length prefix should be`);
    }
    const length = view.getUint32(offset, true);
    offset += 4;
    if (offset + length > raw.byteLength) {
      throw new InvalidInput(`${where}: element ${elements.length} says ${length} bytes but only ${raw.byteLength - offset} remain`);
    }
    elements.push(raw.subarray(offset, offset + length));
    offset += length;
  }
  return elements;
}

/** Whether raw (little-endian) float32 bytes are this machine's own float32 layout. */
const NATIVE_LITTLE_ENDIAN = endianness() === 'LE';

/**
 * Raw tensor bytes to elements: FP32 as a Float32Array (one copy of the bytes: the wire buffer
 * may not be 4-byte aligned, and it belongs to the transport), every other datatype as
 * JSON-style elements (numbers, booleans, strings). `expected` is the shape's element count:
 * fixed-size datatypes must have exactly that many bytes' worth.
 */
export function decodeRaw(raw: Uint8Array, datatype: OipDatatype, expected: number, where: string): OipElements {
  if (datatype === 'BYTES') {
    const elements = splitRawBytes(raw, where);
    if (elements.length !== expected) throw new InvalidInput(`${where}: the shape holds ${expected} elements but the raw contents hold ${elements.length}`);
    return elements.map((bytes, i) => utf8Text(bytes, `${where}: element ${i}`));
  }
  const size = ELEMENT_SIZE[datatype];
  if (raw.byteLength !== expected * size) {
    throw new InvalidInput(`${where}: the shape holds ${expected} ${datatype} elements (${expected * size} bytes) but the raw contents have ${raw.byteLength} bytes`);
  }
  if (datatype === 'FP32') return float32s(raw, expected);
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const out: OipScalar[] = new Array<OipScalar>(expected);
  for (let i = 0; i < expected; i++) {
    const at = i * size;
    switch (datatype) {
      case 'BOOL': {
        const byte = view.getUint8(at);
        if (byte > 1) throw new InvalidInput(`${where}: BOOL element ${i} is byte ${byte}; BOOL is one byte, 0 or 1`);
        out[i] = byte === 1;
        break;
      }
      case 'INT8': out[i] = view.getInt8(at); break;
      case 'UINT8': out[i] = view.getUint8(at); break;
      case 'INT16': out[i] = view.getInt16(at, true); break;
      case 'UINT16': out[i] = view.getUint16(at, true); break;
      case 'FP16': out[i] = halfToNumber(view.getUint16(at, true)); break;
      case 'INT32': out[i] = view.getInt32(at, true); break;
      case 'UINT32': out[i] = view.getUint32(at, true); break;
      case 'INT64': out[i] = bigToNumber(view.getBigInt64(at, true), where, i); break;
      case 'UINT64': out[i] = bigToNumber(view.getBigUint64(at, true), where, i); break;
      case 'FP64': out[i] = view.getFloat64(at, true); break;
    }
  }
  return out;
}

function float32s(raw: Uint8Array, count: number): Float32Array {
  const out = new Float32Array(count);
  if (NATIVE_LITTLE_ENDIAN) {
    new Uint8Array(out.buffer).set(raw);
  } else {
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    for (let i = 0; i < count; i++) out[i] = view.getFloat32(i * 4, true);
  }
  return out;
}

/** JSON-style elements to raw little-endian bytes (the inverse of decodeRaw). */
export function encodeRaw(data: readonly OipScalar[], datatype: OipDatatype): Buffer {
  if (datatype === 'BYTES') {
    const parts = data.map((value) => Buffer.from(String(value), 'utf8'));
    const out = Buffer.allocUnsafe(parts.reduce((sum, part) => sum + 4 + part.length, 0));
    let offset = 0;
    for (const part of parts) {
      out.writeUInt32LE(part.length, offset);
      part.copy(out, offset + 4);
      offset += 4 + part.length;
    }
    return out;
  }
  const size = ELEMENT_SIZE[datatype];
  const out = Buffer.alloc(data.length * size);
  for (let i = 0; i < data.length; i++) {
    const value = data[i]!;
    const at = i * size;
    switch (datatype) {
      case 'BOOL': out.writeUInt8(value ? 1 : 0, at); break;
      case 'INT8': out.writeInt8(Number(value), at); break;
      case 'UINT8': out.writeUInt8(Number(value), at); break;
      case 'INT16': out.writeInt16LE(Number(value), at); break;
      case 'UINT16': out.writeUInt16LE(Number(value), at); break;
      case 'INT32': out.writeInt32LE(Number(value), at); break;
      case 'UINT32': out.writeUInt32LE(Number(value), at); break;
      case 'FP32': out.writeFloatLE(Number(value), at); break;
      case 'INT64': out.writeBigInt64LE(BigInt(Number(value)), at); break;
      case 'UINT64': out.writeBigUint64LE(BigInt(Number(value)), at); break;
      case 'FP64': out.writeDoubleLE(Number(value), at); break;
      case 'FP16': throw new Error('FP16 outputs are not produced by any Vigil task');
    }
  }
  return out;
}

