import { InvalidInput } from '../errors.js';
import { decodeRaw, encodeRaw } from '../serving/oip/raw-tensors.js';
import type { OipInferResponse } from '../serving/oip/oip-dataplane.js';
import { isOipDatatype, shapeProduct } from '../tasks/oip-tensors.js';

/**
 * Triton's binary tensor data extension on OIP REST inference, both ways.
 *
 * Request: an `Inference-Header-Content-Length: N` header says the body is N bytes of JSON
 * (the `$inference_request`) followed by the raw bytes of every input whose parameters carry
 * `binary_data_size`, in input order (src/serving/oip/raw-tensors.ts: little-endian, BOOL one
 * byte, BYTES 4-byte LE length-prefixed). The header alone decides: with it the body is binary
 * whatever its Content-Type (tritonclient.http sends none, others application/octet-stream);
 * without it the body is JSON (src/http/content-type.ts). Each binary input becomes a `data`
 * array, so the OIP layer checks binary and JSON tensors alike.
 *
 * Response: outputs are sent as binary when the request says so: `binary_data: true` on a
 * requested output, or `binary_data_output: true` on the request for every output a
 * `binary_data` does not override. Then the body is the JSON answer, each binary output with
 * `parameters.binary_data_size` instead of `data`, followed by the outputs' bytes in order,
 * with `Inference-Header-Content-Length` and `Content-Type: application/octet-stream`.
 * Otherwise the answer is plain JSON, as before.
 */

export const BINARY_HEADER = 'inference-header-content-length';

/** Whether a request announces binary tensors: the header is present (its value is checked later). */
export function isBinaryRequest(headers: Record<string, string | string[] | undefined>): boolean {
  return headers[BINARY_HEADER] !== undefined;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function headerLength(raw: string | string[] | undefined, bodyLength: number): number {
  const text = Array.isArray(raw) ? raw[0] : raw;
  const n = Number(text);
  if (text === undefined || text.trim() === '' || !Number.isSafeInteger(n) || n < 0) {
    throw new InvalidInput(`Inference-Header-Content-Length must be the byte length of the JSON header, a whole number, got ${JSON.stringify(text)}`);
  }
  if (n > bodyLength) throw new InvalidInput(`Inference-Header-Content-Length is ${n} but the body has only ${bodyLength} bytes`);
  return n;
}

/**
 * A binary-extension body to the `$inference_request` JSON it stands for, each binary input's
 * bytes turned into its `data`. Every mistake is a 400 naming the header or the input.
 */
export function decodeBinaryRequest(body: Buffer, header: string | string[] | undefined): unknown {
  const jsonLength = headerLength(header, body.length);
  let request: unknown;
  try {
    request = JSON.parse(body.subarray(0, jsonLength).toString('utf8'));
  } catch (error) {
    throw new InvalidInput(`the first ${jsonLength} bytes (Inference-Header-Content-Length) are not valid JSON: ${(error as Error).message}`, 'invalid_json');
  }
  let offset = jsonLength;
  if (isObject(request) && Array.isArray(request.inputs)) {
    request.inputs.forEach((input: unknown, index) => {
      if (!isObject(input) || !isObject(input.parameters) || input.parameters.binary_data_size === undefined) return;
      const name = typeof input.name === 'string' ? input.name : `inputs[${index}]`;
      const where = `input "${name}"`;
      const size = input.parameters.binary_data_size;
      if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) throw new InvalidInput(`${where}: "binary_data_size" must be a whole number of bytes, got ${JSON.stringify(size)}`);
      if (input.data !== undefined) throw new InvalidInput(`${where} has both "data" and "binary_data_size": send its elements one way`);
      if (offset + size > body.length) {
        throw new InvalidInput(`${where}: "binary_data_size" is ${size} but only ${body.length - offset} bytes of the body remain after the header and the inputs before it`);
      }
      if (!isOipDatatype(input.datatype)) throw new InvalidInput(`${where}: unknown datatype ${JSON.stringify(input.datatype)}`);
      const shape = input.shape;
      if (!Array.isArray(shape) || !shape.every((d) => typeof d === 'number' && Number.isSafeInteger(d) && d >= 0)) {
        throw new InvalidInput(`${where}: "shape" must be an array of non-negative integers`);
      }
      input.data = decodeRaw(body.subarray(offset, offset + size), input.datatype, shapeProduct(shape as number[]), where);
      offset += size;
    });
  }
  if (offset !== body.length) {
    throw new InvalidInput(`the body has ${body.length - offset} bytes after the JSON header and the binary inputs it announces (binary_data_size)`);
  }
  return request;
}

/** Which outputs the request wants as binary, by name (undefined: none at all). */
export function binaryOutputs(request: unknown): ((output: string) => boolean) | undefined {
  if (!isObject(request)) return undefined;
  const all = isObject(request.parameters) && request.parameters.binary_data_output === true;
  const own = new Map<string, boolean>();
  if (Array.isArray(request.outputs)) {
    for (const output of request.outputs) {
      if (isObject(output) && typeof output.name === 'string' && isObject(output.parameters) && typeof output.parameters.binary_data === 'boolean') {
        own.set(output.name, output.parameters.binary_data);
      }
    }
  }
  if (!all && ![...own.values()].includes(true)) return undefined;
  return (name) => own.get(name) ?? all;
}

export interface BinaryResponse {
  body: Buffer;
  /** Byte length of the JSON part: the Inference-Header-Content-Length header. */
  headerLength: number;
}

/** The answer with the chosen outputs as binary; undefined when none of them is. */
export function encodeBinaryResponse(answer: OipInferResponse, binary: (output: string) => boolean): BinaryResponse | undefined {
  const parts: Buffer[] = [];
  const outputs = answer.outputs.map((output) => {
    if (!binary(output.name)) return output;
    const bytes = encodeRaw(output.data, output.datatype);
    parts.push(bytes);
    const { data: _data, ...rest } = output;
    return { ...rest, parameters: { ...output.parameters, binary_data_size: bytes.length } };
  });
  if (parts.length === 0) return undefined;
  const json = Buffer.from(JSON.stringify({ ...answer, outputs }), 'utf8');
  return { body: Buffer.concat([json, ...parts]), headerLength: json.length };
}
