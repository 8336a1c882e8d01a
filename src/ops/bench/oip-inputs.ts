/**
 * The inputs `vigil bench` sends in the Open Inference Protocol's forms (gRPC ModelInfer, REST
 * `/v2/models/NAME/infer` with JSON or binary tensors), built from the model's metadata the same
 * way for every form, so the forms are compared on the same tensors: BYTES inputs take the texts
 * (`batch` per request), FP32 inputs deterministic values in [0, 1] (pixels, standardised
 * features), different for each variant; the first dimension (-1) is the batch.
 */

export interface TensorMetadata {
  name: string;
  datatype: string;
  shape: number[];
}

export interface BenchTensor extends TensorMetadata {
  /** The elements, for JSON `data`. */
  values: string[] | number[];
  /** The same elements as the protocol's raw bytes (little-endian FP32; BYTES with 4-byte LE lengths). */
  raw: Buffer;
}

function rawBytes(values: string[]): Buffer {
  return Buffer.concat(
    values.flatMap((value) => {
      const bytes = Buffer.from(value, 'utf8');
      const length = Buffer.alloc(4);
      length.writeUInt32LE(bytes.length);
      return [length, bytes];
    }),
  );
}

function rawFloats(values: number[]): Buffer {
  const out = Buffer.alloc(values.length * 4);
  values.forEach((v, i) => out.writeFloatLE(v, i * 4));
  return out;
}

/**
 * One tensor set per request variant: as many variants as there are `batch`-sized groups of
 * texts when the model reads text, else `variants` (16). Other datatypes, or a variable inner
 * dimension, are refused with a message naming the input.
 */
export function benchTensors(options: { model: string; inputs: TensorMetadata[]; texts: string[]; batch: number; variants?: number }): BenchTensor[][] {
  const { model, inputs, texts, batch } = options;
  if (inputs.length === 0) throw new Error(`model "${model}" declares no inputs`);
  for (const input of inputs) {
    if (input.datatype !== 'BYTES' && input.datatype !== 'FP32') {
      throw new Error(`input "${input.name}" of "${model}" is ${input.datatype}: bench builds BYTES (texts) and FP32 inputs only`);
    }
    if (input.shape.slice(1).some((d) => d < 0)) throw new Error(`input "${input.name}" of "${model}" has a variable inner dimension (shape [${input.shape.join(', ')}])`);
  }
  if (texts.length === 0 && inputs.some((i) => i.datatype === 'BYTES')) throw new Error(`model "${model}" reads text and there are no texts`);
  const hasText = inputs.some((i) => i.datatype === 'BYTES');
  const count = Math.max(1, hasText ? Math.floor(texts.length / batch) : (options.variants ?? 16));
  return Array.from({ length: count }, (_, variant) =>
    inputs.map((input) => {
      const shape = [batch, ...input.shape.slice(1)];
      if (input.datatype === 'BYTES') {
        const group = Array.from({ length: batch }, (_, i) => texts[(variant * batch + i) % texts.length]!);
        return { name: input.name, datatype: input.datatype, shape, values: group, raw: rawBytes(group) };
      }
      const elements = shape.reduce((a, b) => a * b, 1);
      const values = Array.from({ length: elements }, (_, i) => ((i * 37 + variant * 101) % 256) / 255);
      return { name: input.name, datatype: input.datatype, shape, values, raw: rawFloats(values) };
    }),
  );
}

/** A REST body with JSON tensors: `{"inputs": [{name, datatype, shape, data}]}`. */
export function jsonInferBody(tensors: BenchTensor[]): string {
  return JSON.stringify({ inputs: tensors.map(({ name, datatype, shape, values }) => ({ name, datatype, shape, data: values })) });
}

/**
 * A REST body with the binary tensor extension: the JSON header (each input with
 * `binary_data_size`, every output asked back as binary with `binary_data_output`), then the
 * inputs' bytes; with the header that says where the JSON ends.
 */
export function binaryInferBody(tensors: BenchTensor[]): { body: Buffer; headers: Record<string, string> } {
  const header = Buffer.from(
    JSON.stringify({
      parameters: { binary_data_output: true },
      inputs: tensors.map(({ name, datatype, shape, raw }) => ({ name, datatype, shape, parameters: { binary_data_size: raw.length } })),
    }),
  );
  return {
    body: Buffer.concat([header, ...tensors.map((t) => t.raw)]),
    headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(header.length) },
  };
}
