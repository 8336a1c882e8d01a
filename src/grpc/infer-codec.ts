import type {
  InferInputTensorMessage,
  InferOutputTensorMessage,
  InferParameterMessage,
  ModelInferRequestMessage,
  ModelInferResponseMessage,
  ParameterMap,
  RequestedOutputMessage,
  TensorContentsMessage,
} from './messages.js';
import { WIRE_FIXED32, WIRE_FIXED64, WIRE_LENGTH, WIRE_VARINT, WireReader, WireWriter } from './protobuf-wire.js';

/**
 * ModelInfer's two messages straight between protobuf bytes and the plain objects the handlers
 * use (messages.ts), for the one call whose cost is per request: the request decoded, the answer
 * encoded, with no message instances in between. Every other method keeps @grpc/proto-loader's
 * generic codec (proto.ts). The objects have the shape the loader's options give
 * (LOADER_OPTIONS): absent strings undefined, repeated fields always arrays, maps always objects,
 * a parameter's set member named in `parameter_choice`; test/unit/grpc-infer-codec.test.ts
 * holds the two codecs to the same results on generated messages.
 *
 * Field numbers are the protocol's (inference.proto, from the spec's open_inference_grpc.proto).
 * A known field in an unexpected wire type is skipped like an unknown one; repeated scalars are
 * read packed or not, and written packed, as proto3 does.
 */

// ---- decoding the request ------------------------------------------------------------------

/** The request message; bytes that are not one throw WireFormatError (INVALID_ARGUMENT: malformed.ts). */
export function decodeModelInferRequest(bytes: Buffer): ModelInferRequestMessage {
  const reader = new WireReader(bytes);
  const parameters: ParameterMap = {};
  const inputs: InferInputTensorMessage[] = [];
  const outputs: RequestedOutputMessage[] = [];
  const raws: Buffer[] = [];
  const message: ModelInferRequestMessage = { parameters, inputs, outputs, raw_input_contents: raws };
  while (reader.pos < reader.end) {
    const tag = reader.uint32();
    const type = tag & 7;
    if (type === WIRE_LENGTH) {
      switch (tag >>> 3) {
        case 1:
          message.model_name = reader.string();
          continue;
        case 2:
          message.model_version = reader.string();
          continue;
        case 3:
          message.id = reader.string();
          continue;
        case 4:
          readParameterEntry(reader.sub(), parameters);
          continue;
        case 5:
          inputs.push(readInputTensor(reader.sub()));
          continue;
        case 6:
          outputs.push(readRequestedOutput(reader.sub()));
          continue;
        case 7:
          raws.push(reader.bytes());
          continue;
      }
    }
    reader.skip(type);
  }
  return message;
}

function readInputTensor(reader: WireReader): InferInputTensorMessage {
  const shape: number[] = [];
  const parameters: ParameterMap = {};
  const tensor: InferInputTensorMessage = { shape, parameters };
  while (reader.pos < reader.end) {
    const tag = reader.uint32();
    const type = tag & 7;
    const field = tag >>> 3;
    if (field === 3 && type === WIRE_LENGTH) {
      const run = reader.sub();
      while (run.pos < run.end) shape.push(run.int64());
      continue;
    }
    if (field === 3 && type === WIRE_VARINT) {
      shape.push(reader.int64());
      continue;
    }
    if (type === WIRE_LENGTH) {
      switch (field) {
        case 1:
          tensor.name = reader.string();
          continue;
        case 2:
          tensor.datatype = reader.string();
          continue;
        case 4:
          readParameterEntry(reader.sub(), parameters);
          continue;
        case 5:
          tensor.contents = readContents(reader.sub());
          continue;
      }
    }
    reader.skip(type);
  }
  return tensor;
}

function readRequestedOutput(reader: WireReader): RequestedOutputMessage {
  const parameters: ParameterMap = {};
  const output: RequestedOutputMessage = { parameters };
  while (reader.pos < reader.end) {
    const tag = reader.uint32();
    const type = tag & 7;
    if (type === WIRE_LENGTH && tag >>> 3 === 1) output.name = reader.string();
    else if (type === WIRE_LENGTH && tag >>> 3 === 2) readParameterEntry(reader.sub(), parameters);
    else reader.skip(type);
  }
  return output;
}

/** One entry of a `map<string, InferParameter>`: an embedded message {1: key, 2: value}. */
function readParameterEntry(reader: WireReader, into: ParameterMap): void {
  let key = '';
  let value: InferParameterMessage = {};
  while (reader.pos < reader.end) {
    const tag = reader.uint32();
    const type = tag & 7;
    if (type === WIRE_LENGTH && tag >>> 3 === 1) key = reader.string();
    else if (type === WIRE_LENGTH && tag >>> 3 === 2) value = readParameter(reader.sub());
    else reader.skip(type);
  }
  // A key named __proto__ stays an own entry instead of replacing the map's prototype.
  if (key === '__proto__') Object.defineProperty(into, key, { value, enumerable: true, writable: true, configurable: true });
  else into[key] = value;
}

function readParameter(reader: WireReader): InferParameterMessage {
  let parameter: InferParameterMessage = {};
  while (reader.pos < reader.end) {
    const tag = reader.uint32();
    const type = tag & 7;
    const field = tag >>> 3;
    // A oneof: the member read last is the one set.
    if (type === WIRE_VARINT && field === 1) parameter = { bool_param: reader.bool(), parameter_choice: 'bool_param' };
    else if (type === WIRE_VARINT && field === 2) parameter = { int64_param: reader.int64(), parameter_choice: 'int64_param' };
    else if (type === WIRE_LENGTH && field === 3) parameter = { string_param: reader.string(), parameter_choice: 'string_param' };
    else if (type === WIRE_FIXED64 && field === 4) parameter = { double_param: reader.double(), parameter_choice: 'double_param' };
    else if (type === WIRE_VARINT && field === 5) parameter = { uint64_param: reader.uint64(), parameter_choice: 'uint64_param' };
    else reader.skip(type);
  }
  return parameter;
}

function readContents(reader: WireReader): TensorContentsMessage {
  const contents: Required<TensorContentsMessage> = {
    bool_contents: [],
    int_contents: [],
    int64_contents: [],
    uint_contents: [],
    uint64_contents: [],
    fp32_contents: [],
    fp64_contents: [],
    bytes_contents: [],
  };
  while (reader.pos < reader.end) {
    const tag = reader.uint32();
    const type = tag & 7;
    const field = tag >>> 3;
    if (field === 8 && type === WIRE_LENGTH) {
      contents.bytes_contents.push(reader.bytes());
      continue;
    }
    const element = CONTENTS_ELEMENTS[field];
    if (element === undefined || (type !== WIRE_LENGTH && type !== element.wireType)) {
      reader.skip(type);
      continue;
    }
    const into = contents[element.key] as (number | boolean)[];
    if (type === WIRE_LENGTH) {
      const run = reader.sub();
      while (run.pos < run.end) into.push(element.read(run));
    } else {
      into.push(element.read(reader));
    }
  }
  return contents;
}

type NumericContentsKey = Exclude<keyof TensorContentsMessage, 'bytes_contents'>;

interface ContentsElement {
  key: NumericContentsKey;
  wireType: number;
  read: (reader: WireReader) => number | boolean;
  write: (writer: WireWriter, value: unknown) => void;
}

/** InferTensorContents' numeric fields by number: how each element travels. */
const CONTENTS_ELEMENTS: Record<number, ContentsElement> = {
  1: { key: 'bool_contents', wireType: WIRE_VARINT, read: (r) => r.bool(), write: (w, v) => w.bool(Boolean(v)) },
  2: { key: 'int_contents', wireType: WIRE_VARINT, read: (r) => r.int32(), write: (w, v) => w.int32(Number(v) | 0) },
  3: { key: 'int64_contents', wireType: WIRE_VARINT, read: (r) => r.int64(), write: (w, v) => w.int64(Number(v)) },
  4: { key: 'uint_contents', wireType: WIRE_VARINT, read: (r) => r.uint32(), write: (w, v) => w.uint32(Number(v) >>> 0) },
  5: { key: 'uint64_contents', wireType: WIRE_VARINT, read: (r) => r.uint64(), write: (w, v) => w.int64(Math.abs(Number(v))) },
  6: { key: 'fp32_contents', wireType: WIRE_FIXED32, read: (r) => r.float(), write: (w, v) => w.float(Number(v)) },
  7: { key: 'fp64_contents', wireType: WIRE_FIXED64, read: (r) => r.double(), write: (w, v) => w.double(Number(v)) },
};

// ---- encoding the answer -------------------------------------------------------------------

export function encodeModelInferResponse(message: ModelInferResponseMessage): Buffer {
  const writer = new WireWriter();
  writeString(writer, 1, message.model_name);
  writeString(writer, 2, message.model_version);
  writeString(writer, 3, message.id);
  writeParameters(writer, 4, message.parameters);
  for (const output of message.outputs) {
    writer.tag(5, WIRE_LENGTH);
    const at = writer.beginLength();
    writeOutputTensor(writer, output);
    writer.endLength(at);
  }
  for (const raw of message.raw_output_contents) {
    writer.tag(6, WIRE_LENGTH);
    writer.bytes(raw);
  }
  return writer.finish();
}

function writeOutputTensor(writer: WireWriter, tensor: InferOutputTensorMessage): void {
  writeString(writer, 1, tensor.name);
  writeString(writer, 2, tensor.datatype);
  if (tensor.shape.length > 0) {
    writer.tag(3, WIRE_LENGTH);
    const at = writer.beginLength();
    for (const dim of tensor.shape) writer.int64(dim);
    writer.endLength(at);
  }
  writeParameters(writer, 4, tensor.parameters);
  if (tensor.contents) {
    writer.tag(5, WIRE_LENGTH);
    const at = writer.beginLength();
    writeContents(writer, tensor.contents);
    writer.endLength(at);
  }
}

function writeContents(writer: WireWriter, contents: TensorContentsMessage): void {
  for (const [field, element] of CONTENTS_FIELDS) {
    const values = contents[element.key];
    if (!values || values.length === 0) continue;
    writer.tag(field, WIRE_LENGTH);
    const at = writer.beginLength();
    for (const value of values) element.write(writer, value);
    writer.endLength(at);
  }
  for (const bytes of contents.bytes_contents ?? []) {
    writer.tag(8, WIRE_LENGTH);
    writer.bytes(bytes);
  }
}

const CONTENTS_FIELDS = Object.entries(CONTENTS_ELEMENTS).map(([field, element]) => [Number(field), element] as const);

function writeParameters(writer: WireWriter, field: number, parameters: ParameterMap | undefined): void {
  if (!parameters) return;
  for (const key of Object.keys(parameters)) {
    writer.tag(field, WIRE_LENGTH);
    const entry = writer.beginLength();
    writeString(writer, 1, key);
    writer.tag(2, WIRE_LENGTH);
    const value = writer.beginLength();
    writeParameter(writer, parameters[key]!);
    writer.endLength(value);
    writer.endLength(entry);
  }
}

function writeParameter(writer: WireWriter, parameter: InferParameterMessage): void {
  if (parameter.bool_param !== undefined) {
    writer.tag(1, WIRE_VARINT);
    writer.bool(parameter.bool_param);
  } else if (parameter.int64_param !== undefined) {
    writer.tag(2, WIRE_VARINT);
    writer.int64(parameter.int64_param);
  } else if (parameter.string_param !== undefined) {
    writer.tag(3, WIRE_LENGTH);
    writer.string(parameter.string_param);
  } else if (parameter.double_param !== undefined) {
    writer.tag(4, WIRE_FIXED64);
    writer.double(parameter.double_param);
  } else if (parameter.uint64_param !== undefined) {
    writer.tag(5, WIRE_VARINT);
    writer.int64(parameter.uint64_param);
  }
}

/** A string field; proto3 leaves an empty one off the wire. */
function writeString(writer: WireWriter, field: number, value: string | undefined): void {
  if (!value) return;
  writer.tag(field, WIRE_LENGTH);
  writer.string(value);
}
