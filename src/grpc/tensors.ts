import { InvalidInput } from '../errors.js';
import type { InferRequest, RequestedOutput } from '../serving/oip/infer-request.js';
import {
  formatShape,
  isOipDatatype,
  OIP_DATATYPES,
  shapeProduct,
  type OipDatatype,
  type OipInput,
  type OipOutput,
  type OipParameters,
  type OipScalar,
} from '../tasks/oip-tensors.js';
import type {
  InferInputTensorMessage,
  InferOutputTensorMessage,
  InferParameterMessage,
  ModelInferRequestMessage,
  ModelInferResponseMessage,
  ParameterMap,
  TensorContentsMessage,
} from './messages.js';
import { decodeRaw, encodeRaw, utf8Text } from '../serving/oip/raw-tensors.js';

export { decodeRaw, encodeRaw, splitRawBytes } from '../serving/oip/raw-tensors.js';

/**
 * Tensors between the protocol's gRPC messages and the protocol-neutral OIP request the REST
 * route builds from JSON: the same `InferRequest` (inputs flattened, shapes checked against
 * their element counts), so both protocols share every check after this one. Every error names
 * the input at fault and is an InvalidInput (INVALID_ARGUMENT over gRPC).
 *
 * Two encodings of tensor data, as the protocol allows:
 * - typed: `contents.<family>_contents`, the family the datatype names (FP32 -> fp32_contents);
 * - raw: `raw_input_contents[i]` for `inputs[i]`, little-endian row-major elements in their
 *   native size; BOOL one byte; BYTES each a 4-byte little-endian length then its bytes.
 * The answer uses the encoding the request used (raw in, raw out), which is what clients that
 * send raw (tritonclient.grpc) read.
 */

/** The `InferTensorContents` field each datatype's elements travel in. */
const CONTENTS_FIELD: Record<OipDatatype, keyof TensorContentsMessage | undefined> = {
  BOOL: 'bool_contents',
  INT8: 'int_contents',
  INT16: 'int_contents',
  INT32: 'int_contents',
  INT64: 'int64_contents',
  UINT8: 'uint_contents',
  UINT16: 'uint_contents',
  UINT32: 'uint_contents',
  UINT64: 'uint64_contents',
  FP32: 'fp32_contents',
  FP64: 'fp64_contents',
  BYTES: 'bytes_contents',
  // The protocol has no typed field for 16-bit floats: raw only.
  FP16: undefined,
};

/** The parameter value a client sent, as the JSON form carries it (string, number or boolean). */
function parameterValue(parameter: InferParameterMessage): OipScalar | undefined {
  switch (parameter.parameter_choice) {
    case 'bool_param':
      return parameter.bool_param ?? false;
    case 'int64_param':
      return parameter.int64_param ?? 0;
    case 'uint64_param':
      return parameter.uint64_param ?? 0;
    case 'double_param':
      return parameter.double_param ?? 0;
    case 'string_param':
      return parameter.string_param ?? '';
    default:
      return undefined;
  }
}

export function decodeParameters(map: ParameterMap | undefined): OipParameters | undefined {
  if (!map) return undefined;
  const entries = Object.entries(map);
  if (entries.length === 0) return undefined;
  const out: OipParameters = {};
  for (const [key, parameter] of entries) {
    const value = parameterValue(parameter);
    if (value !== undefined) out[key] = value;
  }
  return out;
}

export function encodeParameters(parameters: OipParameters | undefined): ParameterMap | undefined {
  if (!parameters) return undefined;
  const out: ParameterMap = {};
  for (const [key, value] of Object.entries(parameters)) {
    if (typeof value === 'boolean') out[key] = { bool_param: value };
    else if (typeof value === 'string') out[key] = { string_param: value };
    else if (Number.isSafeInteger(value)) out[key] = { int64_param: value };
    else out[key] = { double_param: value };
  }
  return out;
}

/** Names the fields of `contents` that hold elements, for "sent X, expected Y" errors. */
function filledFields(contents: TensorContentsMessage | null | undefined): (keyof TensorContentsMessage)[] {
  if (!contents) return [];
  return (Object.keys(contents) as (keyof TensorContentsMessage)[]).filter((key) => (contents[key]?.length ?? 0) > 0);
}

function typedData(tensor: InferInputTensorMessage, name: string, datatype: OipDatatype): OipScalar[] {
  const field = CONTENTS_FIELD[datatype];
  const where = `input "${name}"`;
  const filled = filledFields(tensor.contents);
  if (!field) throw new InvalidInput(`${where}: datatype ${datatype} has no typed contents field; send it in raw_input_contents`);
  const wrong = filled.filter((f) => f !== field);
  if (wrong.length > 0) throw new InvalidInput(`${where}: datatype ${datatype} takes contents.${field}, not contents.${wrong.join(', contents.')}`);
  const values = tensor.contents?.[field] ?? [];
  if (datatype === 'BYTES') return (values as Buffer[]).map((bytes, i) => utf8Text(bytes, `${where}: bytes_contents[${i}]`));
  return values as OipScalar[];
}

function parseShape(shape: number[] | undefined, name: string): number[] {
  const dims = shape ?? [];
  dims.forEach((d, i) => {
    if (!Number.isSafeInteger(d) || d < 0) throw new InvalidInput(`input "${name}": shape[${i}] = ${d} is not a non-negative integer`);
  });
  return dims;
}

function decodeInput(tensor: InferInputTensorMessage, index: number, raw: Buffer | undefined): OipInput {
  const name = tensor.name ?? '';
  if (name === '') throw new InvalidInput(`inputs[${index}]: "name" must not be empty`);
  const datatype = tensor.datatype ?? '';
  if (datatype === '') throw new InvalidInput(`input "${name}": "datatype" is missing`);
  if (!isOipDatatype(datatype)) throw new InvalidInput(`input "${name}": unknown datatype ${JSON.stringify(datatype)} (one of ${OIP_DATATYPES.join(', ')})`);
  const shape = parseShape(tensor.shape, name);
  if (shape.length === 0) throw new InvalidInput(`input "${name}": "shape" is missing`);
  const expected = shapeProduct(shape);
  const data = raw !== undefined ? decodeRaw(raw, datatype, expected, `input "${name}"`) : typedData(tensor, name, datatype);
  if (data.length !== expected) {
    throw new InvalidInput(`input "${name}": shape ${formatShape(shape)} holds ${expected} elements but contents has ${data.length}`);
  }
  return { name, shape, datatype, data, parameters: decodeParameters(tensor.parameters) };
}

function decodeRequestedOutput(output: { name?: string; parameters?: ParameterMap }, index: number): RequestedOutput {
  if (!output.name) throw new InvalidInput(`outputs[${index}]: "name" must not be empty`);
  return { name: output.name, parameters: decodeParameters(output.parameters) };
}

export interface DecodedInferRequest {
  modelName: string;
  /** Undefined when the client named none: the router chooses (champion, canary). */
  modelVersion?: string;
  request: InferRequest;
  /** The inputs came as raw_input_contents: answer with raw_output_contents. */
  raw: boolean;
}

export function decodeInferRequest(message: ModelInferRequestMessage): DecodedInferRequest {
  const modelName = message.model_name ?? '';
  if (modelName === '') throw new InvalidInput('"model_name" must not be empty');
  const tensors = message.inputs ?? [];
  if (tensors.length === 0) throw new InvalidInput('"inputs" must not be empty');
  const raws = message.raw_input_contents ?? [];
  const raw = raws.length > 0;
  if (raw) {
    if (raws.length !== tensors.length) {
      throw new InvalidInput(`raw_input_contents has ${raws.length} entries for ${tensors.length} inputs: one per input, in the order of "inputs"`);
    }
    const typed = tensors.find((t) => filledFields(t.contents).length > 0);
    if (typed) throw new InvalidInput(`input "${typed.name ?? ''}": "contents" must be empty when raw_input_contents is used`);
  }
  const inputs = tensors.map((tensor, i) => decodeInput(tensor, i, raw ? raws[i] : undefined));
  const seen = new Set<string>();
  for (const input of inputs) {
    if (seen.has(input.name)) throw new InvalidInput(`input "${input.name}" is given twice`);
    seen.add(input.name);
  }
  const requested = message.outputs ?? [];
  const outputs = requested.length > 0 ? requested.map(decodeRequestedOutput) : undefined;
  const names = new Set<string>();
  for (const output of outputs ?? []) {
    if (names.has(output.name)) throw new InvalidInput(`output "${output.name}" is requested twice`);
    names.add(output.name);
  }
  return {
    modelName,
    modelVersion: message.model_version ? message.model_version : undefined,
    request: { id: message.id ? message.id : undefined, parameters: decodeParameters(message.parameters), inputs, outputs },
    raw,
  };
}

function typedContents(output: OipOutput): TensorContentsMessage {
  const field = CONTENTS_FIELD[output.datatype];
  if (!field) throw new Error(`datatype ${output.datatype} has no typed contents field`);
  if (output.datatype === 'BYTES') return { bytes_contents: output.data.map((v) => Buffer.from(String(v), 'utf8')) };
  return { [field]: output.data } as TensorContentsMessage;
}

export function encodeInferResponse(
  about: { modelName: string; modelVersion: string; id?: string },
  outputs: OipOutput[],
  raw: boolean,
): ModelInferResponseMessage {
  const tensors: InferOutputTensorMessage[] = outputs.map((output) => ({
    name: output.name,
    datatype: output.datatype,
    shape: output.shape,
    parameters: encodeParameters(output.parameters),
    ...(raw ? {} : { contents: typedContents(output) }),
  }));
  return {
    model_name: about.modelName,
    model_version: about.modelVersion,
    id: about.id ?? '',
    outputs: tensors,
    raw_output_contents: raw ? outputs.map((output) => encodeRaw(output.data, output.datatype)) : [],
  };
}
