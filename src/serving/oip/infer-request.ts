import { InvalidInput } from '../../errors.js';
import {
  flattenTensorData,
  formatShape,
  isOipDatatype,
  OIP_DATATYPES,
  shapeMatches,
  shapeProduct,
  type OipInput,
  type OipModelMetadata,
  type OipOutput,
  type OipParameters,
} from '../../tasks/oip-tensors.js';

/**
 * The body of `POST /v2/models/{name}[/versions/{v}]/infer`, checked field by field so every
 * mistake comes back as a 400 that names the field or the input at fault.
 */

export interface RequestedOutput {
  name: string;
  parameters?: OipParameters;
}

export interface InferRequest {
  id?: string;
  parameters?: OipParameters;
  inputs: OipInput[];
  /** Absent: every output, in metadata order. */
  outputs?: RequestedOutput[];
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * `parameters` objects: the protocol allows string, number and boolean values only. Anything
 * else is refused (not dropped), so a client relying on a nested parameter learns at once that
 * this server does not read it. Known keys are not required: unknown ones (binary_data,
 * content_type, ...) are accepted and ignored.
 */
export function parseParameters(value: unknown, where: string): OipParameters | undefined {
  if (value === undefined) return undefined;
  if (!isObject(value)) throw new InvalidInput(`${where} "parameters" must be an object`);
  for (const [key, v] of Object.entries(value)) {
    if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') {
      throw new InvalidInput(`${where} parameter "${key}" must be a string, number or boolean, got ${v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v}`);
    }
  }
  return value as OipParameters;
}

function parseShape(value: unknown, name: string): number[] {
  if (!Array.isArray(value)) throw new InvalidInput(`input "${name}": "shape" must be an array of non-negative integers`);
  value.forEach((d, i) => {
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) {
      throw new InvalidInput(`input "${name}": shape[${i}] = ${JSON.stringify(d)} is not a non-negative integer`);
    }
  });
  return value as number[];
}

function parseInput(value: unknown, index: number): OipInput {
  if (!isObject(value)) throw new InvalidInput(`inputs[${index}] must be an object with name, shape, datatype and data`);
  const { name, shape, datatype, data, parameters } = value;
  if (typeof name !== 'string' || name === '') throw new InvalidInput(`inputs[${index}]: "name" must be a non-empty string`);
  if (datatype === undefined) throw new InvalidInput(`input "${name}": "datatype" is missing`);
  if (!isOipDatatype(datatype)) {
    throw new InvalidInput(`input "${name}": unknown datatype ${JSON.stringify(datatype)} (one of ${OIP_DATATYPES.join(', ')})`);
  }
  if (shape === undefined) throw new InvalidInput(`input "${name}": "shape" is missing`);
  const dims = parseShape(shape, name);
  if (data === undefined) throw new InvalidInput(`input "${name}": "data" is missing`);
  const flat = flattenTensorData(data, name);
  if (flat.length !== shapeProduct(dims)) {
    throw new InvalidInput(`input "${name}": shape ${formatShape(dims)} holds ${shapeProduct(dims)} elements but "data" has ${flat.length}`);
  }
  return { name, shape: dims, datatype, data: flat, parameters: parseParameters(parameters, `input "${name}"`) };
}

function parseRequestedOutput(value: unknown, index: number): RequestedOutput {
  if (!isObject(value) || typeof value.name !== 'string' || value.name === '') {
    throw new InvalidInput(`outputs[${index}] must be an object with a "name" (a non-empty string)`);
  }
  return { name: value.name, parameters: parseParameters(value.parameters, `output "${value.name}"`) };
}

export function parseInferRequest(body: unknown): InferRequest {
  if (!isObject(body)) throw new InvalidInput('the body must be a JSON object with "inputs" (an array of tensors)');
  if (body.id !== undefined && typeof body.id !== 'string') throw new InvalidInput('"id" must be a string');
  if (body.inputs === undefined) throw new InvalidInput('"inputs" is missing: the body needs an array of input tensors');
  if (!Array.isArray(body.inputs)) throw new InvalidInput('"inputs" must be an array of input tensors');
  if (body.inputs.length === 0) throw new InvalidInput('"inputs" must not be empty');
  const inputs = body.inputs.map(parseInput);
  const seen = new Set<string>();
  for (const input of inputs) {
    if (seen.has(input.name)) throw new InvalidInput(`input "${input.name}" is given twice`);
    seen.add(input.name);
  }
  let outputs: RequestedOutput[] | undefined;
  if (body.outputs !== undefined) {
    if (!Array.isArray(body.outputs)) throw new InvalidInput('"outputs" must be an array of {"name"} objects');
    outputs = body.outputs.map(parseRequestedOutput);
    const names = new Set<string>();
    for (const output of outputs) {
      if (names.has(output.name)) throw new InvalidInput(`output "${output.name}" is requested twice`);
      names.add(output.name);
    }
  }
  return {
    id: body.id as string | undefined,
    parameters: parseParameters(body.parameters, 'request'),
    inputs,
    outputs,
  };
}

/**
 * Checks the request's inputs against the model metadata: every input known, every metadata
 * input present, datatypes equal (no coercion), shapes fitting (-1 matches any size).
 */
export function matchInputs(request: InferRequest, metadata: OipModelMetadata): Map<string, OipInput> {
  const byName = new Map(request.inputs.map((i) => [i.name, i]));
  const expected = metadata.inputs.map((i) => `"${i.name}"`).join(', ');
  for (const input of request.inputs) {
    const meta = metadata.inputs.find((m) => m.name === input.name);
    if (!meta) throw new InvalidInput(`unknown input "${input.name}": this model takes ${expected}`);
    if (input.datatype !== meta.datatype) {
      throw new InvalidInput(`input "${input.name}": datatype ${input.datatype} does not match the model's ${meta.datatype}`);
    }
    const shapes = [meta.shape, ...(meta.alsoAccepts ?? [])];
    if (!shapes.some((s) => shapeMatches(input.shape, s))) {
      throw new InvalidInput(`input "${input.name}": shape ${formatShape(input.shape)} does not match the model's ${shapes.map(formatShape).join(' or ')} (-1: any size)`);
    }
  }
  const missing = metadata.inputs.filter((m) => !byName.has(m.name)).map((m) => `"${m.name}"`);
  if (missing.length > 0) throw new InvalidInput(`missing input${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`);
  return byName;
}

/** Checks requested output names before any work is done. */
export function checkRequestedOutputs(request: InferRequest, metadata: OipModelMetadata): void {
  for (const output of request.outputs ?? []) {
    if (!metadata.outputs.some((m) => m.name === output.name)) {
      throw new InvalidInput(`unknown output "${output.name}": this model gives ${metadata.outputs.map((m) => `"${m.name}"`).join(', ')}`);
    }
  }
}

/** The requested outputs in request order, or all of them. */
export function selectOutputs(all: OipOutput[], requested: RequestedOutput[] | undefined): OipOutput[] {
  if (!requested) return all;
  return requested.map((r) => all.find((o) => o.name === r.name)!).filter(Boolean);
}
