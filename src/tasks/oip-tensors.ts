import { InvalidInput } from '../errors.js';
import type { ModelSpec, TensorSpec } from '../models/spec.js';
import type { Prediction } from './types.js';

/**
 * Tensors as the Open Inference Protocol (KServe V2) carries them in JSON, and the checks every
 * task's codec shares. Nothing here knows about HTTP: the route parses the body, these helpers
 * check tensors, and each task's codec (src/tasks/oip-*.ts) turns them into task inputs.
 */

export const OIP_DATATYPES = [
  'BOOL',
  'UINT8',
  'UINT16',
  'UINT32',
  'UINT64',
  'INT8',
  'INT16',
  'INT32',
  'INT64',
  'FP16',
  'FP32',
  'FP64',
  'BYTES',
] as const;
export type OipDatatype = (typeof OIP_DATATYPES)[number];

export type OipScalar = string | number | boolean;
/**
 * The elements of one input tensor: JSON scalars, or, for FP32 sent in raw form (gRPC
 * raw_input_contents, the REST binary extension), the float32 values themselves. Raw FP32 stays
 * a Float32Array from the wire to the engine: boxing 784 pixels into a JS array and back cost
 * more than the whole binary decode saves.
 */
export type OipElements = OipScalar[] | Float32Array;
/** The protocol restricts parameter values to these three JSON types. */
export type OipParameters = Record<string, OipScalar>;

/** One request input after the structural checks: `data` flattened, `product(shape) === data.length`. */
export interface OipInput {
  name: string;
  shape: number[];
  datatype: OipDatatype;
  data: OipElements;
  parameters?: OipParameters;
}

export interface OipOutput {
  name: string;
  shape: number[];
  datatype: OipDatatype;
  data: OipScalar[];
  parameters?: OipParameters;
}

export interface OipTensorMetadata {
  name: string;
  datatype: OipDatatype;
  /** -1 marks a variable dimension (the batch). */
  shape: number[];
}

/** An input the model takes; `alsoAccepts` lists other shapes of the same data (never shown to clients). */
export interface OipInputMetadata extends OipTensorMetadata {
  alsoAccepts?: number[][];
}

export interface OipModelMetadata {
  inputs: OipInputMetadata[];
  outputs: OipTensorMetadata[];
  /** The protocol's free-form `properties` (string values only): labels, feature order, units. */
  properties?: Record<string, string>;
}

/**
 * How one task speaks the protocol: which tensors its models take and give, how input tensors
 * become the task's own inputs (one per batch row, then batched like any JSON API request), and
 * how its predictions become output tensors.
 */
export interface OipCodec<Input = unknown> {
  metadata(spec: ModelSpec, signature: { inputs: TensorSpec[]; outputs: TensorSpec[] }): OipModelMetadata;
  /**
   * `inputs` holds every metadata input by name, with its datatype and shape already checked
   * against `metadata`; element values are not yet checked beyond their JSON type.
   */
  decode(inputs: ReadonlyMap<string, OipInput>, spec: ModelSpec): Input[];
  /** Every output of the metadata, in its order; the route picks the requested ones. */
  encode(predictions: Prediction[], spec: ModelSpec, metadata: OipModelMetadata): OipOutput[];
}

export function isOipDatatype(value: unknown): value is OipDatatype {
  return typeof value === 'string' && (OIP_DATATYPES as readonly string[]).includes(value);
}

export function shapeProduct(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export const formatShape = (shape: readonly number[]) => `[${shape.join(',')}]`;

/**
 * Row-major flattening of `data`, which may be flat or nested to any depth. Elements must be
 * JSON scalars; `name` goes into every error.
 */
export function flattenTensorData(data: unknown, name: string): OipElements {
  // The binary extension's decoder puts raw FP32 here as it came (JSON.parse never makes one).
  if (data instanceof Float32Array) return data;
  if (!Array.isArray(data)) throw new InvalidInput(`input "${name}": "data" must be an array (flat or nested)`);
  // Most clients send flat data: then the parsed array is the tensor, with no copy.
  if (data.every(isScalar)) return data as OipScalar[];
  const out: OipScalar[] = [];
  const walk = (value: unknown[], depth: number) => {
    // Depth is bounded by the JSON body itself; 32 is far past any real tensor rank.
    if (depth > 32) throw new InvalidInput(`input "${name}": "data" is nested too deeply`);
    for (const element of value) {
      if (Array.isArray(element)) walk(element, depth + 1);
      else if (isScalar(element)) out.push(element);
      else throw new InvalidInput(`input "${name}": "data" holds ${element === null ? 'null' : typeof element}; elements must be numbers, strings or booleans`);
    }
  };
  walk(data, 0);
  return out;
}

function isScalar(element: unknown): element is OipScalar {
  return typeof element === 'number' || typeof element === 'string' || typeof element === 'boolean';
}

/** Whether `shape` fits `expected`, where -1 in `expected` matches any size. */
export function shapeMatches(shape: readonly number[], expected: readonly number[]): boolean {
  return shape.length === expected.length && shape.every((d, i) => expected[i] === -1 || expected[i] === d);
}

const INTEGER_RANGES: Partial<Record<OipDatatype, [number, number]>> = {
  UINT8: [0, 255],
  UINT16: [0, 65_535],
  UINT32: [0, 4_294_967_295],
  UINT64: [0, Number.MAX_SAFE_INTEGER],
  INT8: [-128, 127],
  INT16: [-32_768, 32_767],
  INT32: [-2_147_483_648, 2_147_483_647],
  INT64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
};

/**
 * Checks that every element has the JSON type its datatype needs (numbers for FP*, integers in
 * range for INT and UINT, booleans for BOOL, strings for BYTES). No coercion: a client that
 * sends "1.5" for an FP32 tensor has a bug worth hearing about.
 */
export function checkElements(input: OipInput): void {
  const { name, datatype, data } = input;
  // Only raw FP32 is a Float32Array: its elements are float32 by construction.
  if (data instanceof Float32Array) return;
  const range = INTEGER_RANGES[datatype];
  // The message is built only on a failure: this loop runs once per element of every request.
  const where = (i: number) => `input "${name}": data[${i}]`;
  for (let i = 0; i < data.length; i++) {
    const value = data[i];
    if (datatype === 'BYTES') {
      if (typeof value !== 'string') throw new InvalidInput(`${where(i)} must be a string for datatype BYTES, got ${typeof value}`);
    } else if (datatype === 'BOOL') {
      if (typeof value !== 'boolean') throw new InvalidInput(`${where(i)} must be true or false for datatype BOOL, got ${typeof value}`);
    } else if (typeof value !== 'number') {
      throw new InvalidInput(`${where(i)} must be a number for datatype ${datatype}, got ${typeof value}`);
    } else if (range && (!Number.isInteger(value) || value < range[0] || value > range[1])) {
      throw new InvalidInput(`${where(i)} = ${value} is not a ${datatype} (an integer in ${range[0]}..${range[1]})`);
    }
  }
}

/** The strings of a BYTES tensor, checked. */
export function stringData(input: OipInput): string[] {
  checkElements(input);
  return input.data as string[];
}

/** The numbers of an FP tensor, as float32 (raw FP32 as it came, without a copy). */
export function floatData(input: OipInput): Float32Array {
  if (input.data instanceof Float32Array) return input.data;
  checkElements(input);
  return Float32Array.from(input.data as number[]);
}

/**
 * Splits a tensor whose first dimension is the batch into its rows: views on `data`, not copies
 * (every pipeline copies its rows into the batch it runs).
 */
export function batchRows(data: Float32Array, shape: readonly number[]): Float32Array[] {
  const rows = shape[0] ?? 1;
  const width = rows === 0 ? 0 : data.length / rows;
  return Array.from({ length: rows }, (_, r) => data.subarray(r * width, (r + 1) * width));
}

/** Class probabilities of a classification, in label order. */
function probabilityRow(prediction: Prediction, labels: readonly string[]): number[] {
  const scores = prediction.scores ?? {};
  return labels.length > 0 ? labels.map((l) => scores[l] ?? 0) : Object.values(scores);
}

/** The two outputs every classifier gives: `label` BYTES [N] and `probabilities` FP32 [N,C]. */
export function classificationOutputs(predictions: Prediction[], labels: readonly string[]): OipOutput[] {
  const names = labels.length > 0 ? labels : Object.keys(predictions[0]?.scores ?? {});
  const rows = predictions.map((p) => probabilityRow(p, names));
  return [
    { name: 'label', datatype: 'BYTES', shape: [predictions.length], data: predictions.map((p) => p.label ?? '') },
    { name: 'probabilities', datatype: 'FP32', shape: [predictions.length, names.length], data: rows.flat() },
  ];
}

export function classificationOutputMetadata(classes: number): OipTensorMetadata[] {
  return [
    { name: 'label', datatype: 'BYTES', shape: [-1] },
    { name: 'probabilities', datatype: 'FP32', shape: [-1, classes > 0 ? classes : -1] },
  ];
}
