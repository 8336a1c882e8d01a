/**
 * Messages between the server thread and an inference worker. Tensors travel as plain
 * typed arrays whose buffers are transferred, not copied.
 */
import type { WorkerCalibration } from './engine-choice.js';

export interface ThreadSettings {
  /** Threads inside one operator (matrix multiplications). 0 lets onnxruntime pick (one per core). */
  intraOpThreads?: number;
  /** Threads across independent operators; only used when the graph has parallel branches. */
  interOpThreads?: number;
  /** Sessions (each on its own worker thread) that may run batches at the same time. */
  sessions?: number;
}

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
  /** After a calibration: go on with the session of this many intra-op threads, release the other. */
  | { kind: 'keep'; intraOpThreads: number }
  | { kind: 'release' };

export type FromWorker =
  | { kind: 'loaded'; inputs: WireMetadata[]; outputs: WireMetadata[]; calibration?: WorkerCalibration }
  | { kind: 'load-failed'; message: string }
  | { kind: 'result'; id: number; outputs: Record<string, WireTensor> }
  | { kind: 'failed'; id: number; message: string };

export interface WorkerInit {
  file: string;
  threads: ThreadSettings;
  /** Measure the call cost after loading (and, when the threads are Vigil's to choose, one thread against the pool). */
  calibrate?: { maxBatch: number; skipAboveMs: number; compareSingleThread: boolean };
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
