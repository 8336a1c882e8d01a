import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { TensorSpec } from '../../models/spec.js';
import { transferables, type FromWorker, type WireMetadata, type WireTensor, type WorkerInit } from './protocol.js';
import { Tensor } from './tensor.js';

export type Feeds = Record<string, Tensor>;
export type Outputs = Record<string, Tensor>;
export { Tensor };

export interface ThreadSettings {
  /** Threads inside one operator (matrix multiplications). 0 lets onnxruntime pick (one per core). */
  intraOpThreads?: number;
  /** Threads across independent operators; only used when the graph has parallel branches. */
  interOpThreads?: number;
  /** Sessions (each on its own worker thread) that may run batches at the same time. */
  sessions?: number;
}

const ORT_TO_OIP: Record<string, TensorSpec['datatype']> = {
  float32: 'FP32',
  float64: 'FP64',
  float16: 'FP16',
  int64: 'INT64',
  int32: 'INT32',
  int16: 'INT16',
  int8: 'INT8',
  uint8: 'UINT8',
  bool: 'BOOL',
  string: 'BYTES',
};

/**
 * The compiled worker: next to this file in tsc's output (dist/runtimes/onnx/), else under the
 * package root's dist/, looked up from here — which is dist/cli/ in the bundled server and
 * src/runtimes/onnx/ when tests run the TypeScript sources.
 */
function workerFile(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const sibling = path.join(here, 'worker.js');
  if (existsSync(sibling)) return sibling;
  for (let dir = here; ; dir = path.dirname(dir)) {
    const built = path.join(dir, 'dist', 'runtimes', 'onnx', 'worker.js');
    if (existsSync(built)) return built;
    if (path.dirname(dir) === dir) break;
  }
  throw new Error(`the inference worker is not built (no ${sibling}, nor dist/runtimes/onnx/worker.js above it): run npm run build`);
}

/** One worker thread holding one onnxruntime session, with its calls in flight. */
class SessionWorker {
  private nextId = 0;
  private readonly pending = new Map<number, { resolve(outputs: Outputs): void; reject(error: Error): void }>();
  private exitError: Error | undefined;
  private crash: Error | undefined;

  private constructor(
    private readonly worker: Worker,
    readonly inputs: WireMetadata[],
    readonly outputs: WireMetadata[],
  ) {
    worker.on('message', (message: FromWorker) => {
      if (message.kind !== 'result' && message.kind !== 'failed') return;
      const call = this.pending.get(message.id);
      if (!call) return;
      this.pending.delete(message.id);
      if (message.kind === 'failed') call.reject(new Error(`inference failed: ${message.message}`));
      else call.resolve(fromWire(message.outputs));
    });
    // Without a listener, an uncaught exception in the worker after loading would be rethrown
    // on the server thread and take every other model down with it. The 'exit' that follows
    // fails the calls in flight; this keeps the reason for them.
    worker.on('error', (error) => {
      this.crash = error;
    });
    worker.on('exit', (code) => {
      this.exitError = new Error(`the inference worker exited (code ${code})${this.crash ? `: ${this.crash.message}` : ''}`);
      for (const call of this.pending.values()) call.reject(this.exitError);
      this.pending.clear();
    });
  }

  static start(init: WorkerInit): Promise<SessionWorker> {
    const worker = new Worker(workerFile(), { workerData: init });
    return new Promise((resolve, reject) => {
      const onMessage = (message: FromWorker) => {
        worker.off('error', onError);
        if (message.kind === 'loaded') resolve(new SessionWorker(worker, message.inputs, message.outputs));
        else if (message.kind === 'load-failed') {
          void worker.terminate();
          reject(new Error(`cannot load ${init.file}: ${message.message}`));
        }
      };
      const onError = (error: Error) => reject(error);
      worker.once('message', onMessage);
      worker.once('error', onError);
    });
  }

  get busy(): number {
    return this.pending.size;
  }

  run(feeds: Feeds): Promise<Outputs> {
    if (this.exitError) return Promise.reject(this.exitError);
    const id = this.nextId++;
    const wire: Record<string, WireTensor> = {};
    for (const [name, tensor] of Object.entries(feeds)) wire[name] = { type: tensor.type, data: tensor.data, dims: tensor.dims };
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ kind: 'run', id, feeds: wire }, transferables(wire));
    });
  }

  async release(): Promise<void> {
    if (this.exitError) return;
    const exited = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
    this.worker.postMessage({ kind: 'release' });
    await exited;
  }
}

function fromWire(outputs: Record<string, WireTensor>): Outputs {
  const tensors: Outputs = {};
  for (const [name, wire] of Object.entries(outputs)) tensors[name] = new Tensor(wire.type, wire.data, wire.dims);
  return tensors;
}

/**
 * An ONNX model on CPU, run on worker threads so inference never blocks the event loop.
 * It knows nothing about tasks or HTTP: tensors in, tensors out. With several sessions, each
 * call goes to the least busy one.
 */
export class OnnxSession {
  private constructor(
    private readonly workers: SessionWorker[],
    readonly file: string,
  ) {}

  static async load(file: string, threads: ThreadSettings = {}): Promise<OnnxSession> {
    const count = Math.max(1, threads.sessions ?? 1);
    const init: WorkerInit = { file, threads: { intraOpThreads: threads.intraOpThreads, interOpThreads: threads.interOpThreads } };
    // All at once: each session loads on its own thread.
    const started = await Promise.allSettled(Array.from({ length: count }, () => SessionWorker.start(init)));
    const workers = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) {
      await Promise.all(workers.map((w) => w.release()));
      throw failed.reason;
    }
    return new OnnxSession(workers, file);
  }

  /** How many batches may run at once (one per session). */
  get concurrency(): number {
    return this.workers.length;
  }

  get inputNames(): string[] {
    return this.workers[0]!.inputs.map((m) => m.name);
  }

  get outputNames(): string[] {
    return this.workers[0]!.outputs.map((m) => m.name);
  }

  /** The graph's own view of its inputs and outputs, in the Open Inference Protocol's terms. */
  describe(): { inputs: TensorSpec[]; outputs: TensorSpec[] } {
    const toSpec = (meta: WireMetadata): TensorSpec => {
      if (!meta.isTensor) return { name: meta.name, datatype: 'BYTES', shape: [-1] };
      return {
        name: meta.name,
        datatype: ORT_TO_OIP[meta.type ?? ''] ?? 'FP32',
        shape: (meta.shape ?? []).map((d) => (typeof d === 'number' && d > 0 ? d : -1)),
      };
    };
    const first = this.workers[0]!;
    return { inputs: first.inputs.map(toSpec), outputs: first.outputs.map(toSpec) };
  }

  run(feeds: Feeds): Promise<Outputs> {
    const worker = this.workers.reduce((least, w) => (w.busy < least.busy ? w : least));
    return worker.run(feeds);
  }

  async release(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.release()));
  }
}
