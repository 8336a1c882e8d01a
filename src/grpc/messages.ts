/**
 * The Open Inference Protocol's gRPC messages as @grpc/proto-loader hands them over and takes
 * them back (options in proto.ts: field names as in the .proto, int64 as numbers, bytes as
 * Buffers, repeated fields always arrays, oneofs named). Only the fields Vigil reads or writes.
 */

export interface InferParameterMessage {
  bool_param?: boolean;
  int64_param?: number;
  string_param?: string;
  double_param?: number;
  uint64_param?: number;
  /** Which of the above is set (proto-loader's `oneofs: true`). */
  parameter_choice?: 'bool_param' | 'int64_param' | 'string_param' | 'double_param' | 'uint64_param';
}

export type ParameterMap = Record<string, InferParameterMessage>;

export interface TensorContentsMessage {
  bool_contents?: boolean[];
  int_contents?: number[];
  int64_contents?: number[];
  uint_contents?: number[];
  uint64_contents?: number[];
  fp32_contents?: number[];
  fp64_contents?: number[];
  bytes_contents?: Buffer[];
}

export interface InferInputTensorMessage {
  name?: string;
  datatype?: string;
  shape?: number[];
  parameters?: ParameterMap;
  contents?: TensorContentsMessage | null;
}

export interface RequestedOutputMessage {
  name?: string;
  parameters?: ParameterMap;
}

export interface ModelInferRequestMessage {
  model_name?: string;
  model_version?: string;
  id?: string;
  parameters?: ParameterMap;
  inputs?: InferInputTensorMessage[];
  outputs?: RequestedOutputMessage[];
  raw_input_contents?: Buffer[];
}

export interface InferOutputTensorMessage {
  name: string;
  datatype: string;
  shape: number[];
  parameters?: ParameterMap;
  contents?: TensorContentsMessage;
}

export interface ModelInferResponseMessage {
  model_name: string;
  model_version: string;
  id: string;
  parameters?: ParameterMap;
  outputs: InferOutputTensorMessage[];
  raw_output_contents: Buffer[];
}

export interface TensorMetadataMessage {
  name: string;
  datatype: string;
  shape: number[];
}

export interface ModelMetadataResponseMessage {
  name: string;
  versions: string[];
  platform: string;
  inputs: TensorMetadataMessage[];
  outputs: TensorMetadataMessage[];
  properties: Record<string, string>;
}
