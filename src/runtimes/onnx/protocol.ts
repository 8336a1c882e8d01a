/**
 * Messages between the server thread and an inference worker. Tensors travel as plain
 * typed arrays whose buffers are transferred, not copied.
 */
import type { ThreadSettings } from './session.js';

export type TensorData =
  | Float32Array
  | Float64Array
  | BigInt64Array
  | Int32Array
  | Int16Array
  | Int8Array
  | Uint8Array
  | string[];

export interface WireTensor {
  type: string;
  data: TensorData;
  dims: readonly number[];
}

export interface WireMetadata {
  name: string;
  isTensor: boolean;
  type?: string;
  shape?: readonly (number | string)[];
}

export type ToWorker =
  | { kind: 'run'; id: number; feeds: Record<string, WireTensor> }
  | { kind: 'release' };

export type FromWorker =
  | { kind: 'loaded'; inputs: WireMetadata[]; outputs: WireMetadata[] }
  | { kind: 'load-failed'; message: string }
  | { kind: 'result'; id: number; outputs: Record<string, WireTensor> }
  | { kind: 'failed'; id: number; message: string };

export interface WorkerInit {
  file: string;
  threads: ThreadSettings;
}

/** The buffers to hand over with a message, so big tensors are moved rather than cloned. */
export function transferables(tensors: Record<string, WireTensor>): ArrayBuffer[] {
  const buffers = new Set<ArrayBuffer>();
  for (const tensor of Object.values(tensors)) {
    if (Array.isArray(tensor.data)) continue;
    const buffer = (tensor.data as Exclude<TensorData, string[]>).buffer;
    if (buffer instanceof ArrayBuffer) buffers.add(buffer);
  }
  return [...buffers];
}
