import onnxProto from 'onnx-proto';
import type { onnx as O } from 'onnx-proto';
import { toHalves } from './float16.js';

/**
 * A small ONNX graph builder over `onnx-proto`: named initializers from typed arrays, nodes with
 * attributes, dynamic-dimension inputs/outputs. Opset 17, IR version 8.
 */
const { onnx } = onnxProto;
const DT = onnx.TensorProto.DataType;
const AT = onnx.AttributeProto.AttributeType;

export type ElemType = 'float32' | 'int64';
export type Dim = number | string;
type AttrValue = number | number[] | { float: number } | { floats: number[] };

export class GraphBuilder {
  private readonly nodes: O.INodeProto[] = [];
  private readonly initializers: O.ITensorProto[] = [];
  private readonly inputs: O.IValueInfoProto[] = [];
  private readonly outputs: O.IValueInfoProto[] = [];
  private uid = 0;

  constructor(private readonly name: string) {}

  /** A fresh intermediate tensor name. */
  tmp(prefix: string): string {
    return `${prefix}_${this.uid++}`;
  }

  input(name: string, elem: ElemType, dims: Dim[]): string {
    this.inputs.push(valueInfo(name, elem, dims));
    return name;
  }

  output(name: string, elem: ElemType, dims: Dim[]): string {
    this.outputs.push(valueInfo(name, elem, dims));
    return name;
  }

  floats(name: string, dims: number[], data: Float32Array | number[]): string {
    const a = data instanceof Float32Array ? data : Float32Array.from(data);
    if (a.length !== dims.reduce((x, y) => x * y, 1)) throw new Error(`initializer ${name}: ${a.length} values for dims [${dims.join(',')}]`);
    this.initializers.push({ name, dims, dataType: DT.FLOAT, rawData: bytes(a) });
    return name;
  }

  /** A float16 initializer (the values are rounded; see float16.ts). */
  halves(name: string, dims: number[], data: Float32Array): string {
    if (data.length !== dims.reduce((x, y) => x * y, 1)) throw new Error(`initializer ${name}: ${data.length} values for dims [${dims.join(',')}]`);
    this.initializers.push({ name, dims, dataType: DT.FLOAT16, rawData: bytes(toHalves(data)) });
    return name;
  }

  /** An int8 initializer (quantised codes; see int8-rows.ts). */
  int8s(name: string, dims: number[], data: Int8Array): string {
    if (data.length !== dims.reduce((x, y) => x * y, 1)) throw new Error(`initializer ${name}: ${data.length} values for dims [${dims.join(',')}]`);
    this.initializers.push({ name, dims, dataType: DT.INT8, rawData: bytes(data) });
    return name;
  }

  /** A uint8 initializer (0/1 flags per vocabulary id: an eighth of int64's bytes). */
  uint8s(name: string, dims: number[], data: Uint8Array): string {
    if (data.length !== dims.reduce((x, y) => x * y, 1)) throw new Error(`initializer ${name}: ${data.length} values for dims [${dims.join(',')}]`);
    this.initializers.push({ name, dims, dataType: DT.UINT8, rawData: bytes(data) });
    return name;
  }

  /** An int32 initializer (ids that fit: half of int64's bytes). */
  int32s(name: string, dims: number[], data: Int32Array): string {
    if (data.length !== dims.reduce((x, y) => x * y, 1)) throw new Error(`initializer ${name}: ${data.length} values for dims [${dims.join(',')}]`);
    this.initializers.push({ name, dims, dataType: DT.INT32, rawData: bytes(data) });
    return name;
  }

  ints(name: string, dims: number[], data: number[] | bigint[]): string {
    const a = BigInt64Array.from(data.map((v) => BigInt(v)));
    this.initializers.push({ name, dims, dataType: DT.INT64, rawData: bytes(a) });
    return name;
  }

  /** Adds a node; returns its first output name (generated when not given). */
  node(op: string, inputs: string[], attrs: Record<string, AttrValue> = {}, outputs?: string[]): string {
    const outs = outputs ?? [this.tmp(op.toLowerCase())];
    const attribute: O.IAttributeProto[] = Object.entries(attrs).map(([k, v]) => {
      if (Array.isArray(v)) return { name: k, type: AT.INTS, ints: v };
      if (typeof v === 'number') return { name: k, type: AT.INT, i: v };
      if ('float' in v) return { name: k, type: AT.FLOAT, f: v.float };
      return { name: k, type: AT.FLOATS, floats: v.floats };
    });
    this.nodes.push({ opType: op, input: inputs, output: outs, name: this.tmp(`n_${op}`), attribute });
    return outs[0]!;
  }

  /** Serialised ModelProto. */
  encode(docString = ''): Uint8Array {
    const model = {
      irVersion: 8,
      producerName: 'vigil',
      producerVersion: '1',
      docString,
      opsetImport: [{ domain: '', version: 17 }],
      graph: { name: this.name, node: this.nodes, initializer: this.initializers, input: this.inputs, output: this.outputs },
    };
    return onnx.ModelProto.encode(onnx.ModelProto.fromObject(model)).finish();
  }
}

function bytes(a: Float32Array | BigInt64Array | Uint16Array | Int8Array | Uint8Array | Int32Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

function valueInfo(name: string, elem: ElemType, dims: Dim[]): O.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: elem === 'float32' ? DT.FLOAT : DT.INT64,
        shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) },
      },
    },
  };
}
