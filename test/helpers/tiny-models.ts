import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import onnxProto from 'onnx-proto';
import { PNG } from 'pngjs';

/**
 * Tiny ONNX models with known answers, written to a temp folder with their vigil.model.json, so
 * the image and tabular paths can be tested end to end before (and independently of) the trained
 * digits and air-quality models. Built straight with onnx-proto: opset 17, float32.
 */

const { onnx } = onnxProto;
const FLOAT = onnx.TensorProto.DataType.FLOAT;
const INT64 = onnx.TensorProto.DataType.INT64;

type Dim = number | string;

function valueInfo(name: string, dims: Dim[]) {
  return {
    name,
    type: { tensorType: { elemType: FLOAT, shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) } } },
  };
}

function floats(name: string, dims: number[], values: ArrayLike<number>) {
  const data = Float32Array.from(values);
  return { name, dims, dataType: FLOAT, rawData: new Uint8Array(data.buffer) };
}

function ints(name: string, values: number[]) {
  const data = BigInt64Array.from(values.map(BigInt));
  return { name, dims: [values.length], dataType: INT64, rawData: new Uint8Array(data.buffer) };
}

interface Initializer {
  name: string;
  dims: number[];
  dataType: number;
  rawData: Uint8Array;
}

interface Graph {
  inputs: ReturnType<typeof valueInfo>[];
  outputs: ReturnType<typeof valueInfo>[];
  initializers: Initializer[];
  nodes: { opType: string; input: string[]; output: string[] }[];
}

function encodeModel(graph: Graph): Uint8Array {
  const model = onnx.ModelProto.fromObject({
    irVersion: 8,
    producerName: 'vigil-tests',
    opsetImport: [{ domain: '', version: 17 }],
    graph: { name: 'tiny', node: graph.nodes, initializer: graph.initializers, input: graph.inputs, output: graph.outputs },
  });
  return onnx.ModelProto.encode(model).finish();
}

/** Class k's logit is the sum of the pixels whose index i has i % 10 === k (so the answer is known). */
export function digitWeights(pixels = 784, classes = 10): Float32Array {
  const w = new Float32Array(pixels * classes);
  for (let i = 0; i < pixels; i++) w[i * classes + (i % classes)] = 1;
  return w;
}

/** Pixels lighting only indices i with i % 10 === digit: the tiny digit model answers `digit`. */
export function pixelsFor(digit: number, pixels = 784): number[] {
  return Array.from({ length: pixels }, (_, i) => (i % 10 === digit ? 1 : 0));
}

/** [N,784] -> logits [N,10]; or with `layout: 'nchw'`, [N,1,28,28] reshaped inside the graph. */
export function tinyDigitsOnnx(layout: 'flat' | 'nchw' = 'flat'): Uint8Array {
  const nodes: Graph['nodes'] = [];
  const initializers: Initializer[] = [floats('W', [784, 10], digitWeights()), floats('B', [10], new Float32Array(10))];
  let x = 'pixels';
  const inputs = [layout === 'flat' ? valueInfo('pixels', ['batch', 784]) : valueInfo('image', ['batch', 1, 28, 28])];
  if (layout === 'nchw') {
    initializers.push(ints('flat_shape', [-1, 784]));
    nodes.push({ opType: 'Reshape', input: ['image', 'flat_shape'], output: ['flat'] });
    x = 'flat';
  }
  nodes.push({ opType: 'MatMul', input: [x, 'W'], output: ['xw'] });
  nodes.push({ opType: 'Add', input: ['xw', 'B'], output: ['logits'] });
  return encodeModel({ inputs, outputs: [valueInfo('logits', ['batch', 10])], initializers, nodes });
}

/** The tabular model's features; `a` is standardised by the server (mean 10, std 2). */
export const TINY_FEATURES = [
  { name: 'a', unit: 'mg/m^3', description: 'standardised by the server', mean: 10, std: 2 },
  { name: 'b', unit: '°C' },
  { name: 'c', unit: '%' },
];
export const TINY_TARGET = { name: 'benzene', unit: 'µg/m^3', mean: 100, std: 10 };

/** value = 10 * ((a-10)/2 + 2b + 3c + 0.5) + 100: what the tiny tabular model predicts (scale: `scale`). */
export function tinyTabularExpected(row: { a: number; b: number; c: number }, scale = 1): number {
  return TINY_TARGET.std * scale * ((row.a - 10) / 2 + 2 * row.b + 3 * row.c + 0.5) + TINY_TARGET.mean;
}

/** features [N,3] -> value [N,1] = features . [1,2,3]*scale + 0.5*scale. */
export function tinyTabularOnnx(scale = 1): Uint8Array {
  return encodeModel({
    inputs: [valueInfo('features', ['batch', 3])],
    outputs: [valueInfo('value', ['batch', 1])],
    initializers: [floats('W', [3, 1], [scale, 2 * scale, 3 * scale]), floats('B', [1], [0.5 * scale])],
    nodes: [
      { opType: 'MatMul', input: ['features', 'W'], output: ['xw'] },
      { opType: 'Add', input: ['xw', 'B'], output: ['value'] },
    ],
  });
}

export const DIGIT_LABELS = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];

function writeModel(dir: string, onnxBytes: Uint8Array, spec: Record<string, unknown>): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'model.onnx'), onnxBytes);
  writeFileSync(path.join(dir, 'vigil.model.json'), JSON.stringify({ onnx: { file: 'model.onnx' }, runtime: 'onnx', ...spec }, null, 2));
  return dir;
}

export function writeTinyDigits(dir: string, name = 'tiny-digits', layout: 'flat' | 'nchw' = 'flat', extra: Record<string, unknown> = {}): string {
  return writeModel(dir, tinyDigitsOnnx(layout), {
    name,
    version: '1',
    task: 'image-classification',
    labels: DIGIT_LABELS,
    preprocessing: { image: { width: 28, height: 28 } },
    ...extra,
  });
}

export function writeTinyTabular(dir: string, name = 'tiny-air', version = '1', scale = 1): string {
  return writeModel(dir, tinyTabularOnnx(scale), {
    name,
    version,
    task: 'tabular-regression',
    preprocessing: { features: TINY_FEATURES, target: TINY_TARGET },
  });
}

/** A fresh temp folder for one test file's models. */
export function tempModelsDir(prefix = 'vigil-tiny-'): string {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

/** A PNG of a filled rectangle (ink) on a background, as base64; RGBA. */
export function rectanglePng(options: {
  width: number;
  height: number;
  rect: { x: number; y: number; width: number; height: number };
  ink: [number, number, number, number];
  background: [number, number, number, number];
}): string {
  const png = new PNG({ width: options.width, height: options.height });
  for (let y = 0; y < options.height; y++) {
    for (let x = 0; x < options.width; x++) {
      const { rect } = options;
      const inside = x >= rect.x && x < rect.x + rect.width && y >= rect.y && y < rect.y + rect.height;
      png.data.set(inside ? options.ink : options.background, (y * options.width + x) * 4);
    }
  }
  return PNG.sync.write(png).toString('base64');
}
