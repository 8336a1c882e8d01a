import { stat } from 'node:fs/promises';
import { Worker } from 'node:worker_threads';
import type { TensorSpec } from '../../models/spec.js';
import {
  chooseEngine,
  chooseFromServerThread,
  measureOnServerThreadFirst,
  serverThreadGiveUpMs,
  type Calibration,
  type EngineChoice,
  type PlacementSetting,
  type WorkerCalibration,
} from './engine-choice.js';
import { InlineEngine } from './inline.js';
import { transferables, type FromWorker, type ThreadSettings, type WireMetadata, type WireTensor, type WorkerInit } from './protocol.js';
import { Tensor } from './tensor.js';
import { workerFile } from '../../worker-file.js';

export type Feeds = Record<string, Tensor>;
export type Outputs = Record<string, Tensor>;
export { Tensor };
export type { ThreadSettings };

/** Where the engine may run (engine-choice.ts): decided from a calibration at load unless configured. */
export interface EngineSettings {
  placement: PlacementSetting;
  /** The longest call (at the largest batch) allowed to run on the server thread, in milliseconds. */
  inlineMaxMs: number;
  /** The largest batch the batcher will form, measured at load. */
  maxBatch: number;
}

/** What was chosen for a loaded session and why, for the load log and the model's description. */
export interface EngineReport {
  placement: 'worker' | 'inline';
  intraOpThreads: number;
  sessions: number;
  reason: string;
  calibration?: Calibration;
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
    readonly calibration: WorkerCalibration | undefined,
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
    const worker = new Worker(workerFile(import.meta.url, 'runtimes/onnx/worker.js', 'inference worker'), { workerData: init });
    return new Promise((resolve, reject) => {
      const onMessage = (message: FromWorker) => {
        worker.off('error', onError);
        if (message.kind === 'loaded') resolve(new SessionWorker(worker, message.inputs, message.outputs, message.calibration));
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

  /** After a calibration: run with the session of this many intra-op threads from now on. */
  keep(intraOpThreads: number): void {
    this.worker.postMessage({ kind: 'keep', intraOpThreads });
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

/** One engine behind an OnnxSession: a worker thread, or the server thread for calls shorter than a round trip. */
type Engine = Pick<SessionWorker, 'inputs' | 'outputs' | 'busy' | 'run' | 'release'>;

/** Starts `count` workers at once (each session loads on its own thread); on any failure, none is kept. */
async function startWorkers(init: WorkerInit, count: number): Promise<SessionWorker[]> {
  const started = await Promise.allSettled(Array.from({ length: count }, () => SessionWorker.start(init)));
  const workers = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) {
    await Promise.all(workers.map((w) => w.release()));
    throw failed.reason;
  }
  return workers;
}

/**
 * An ONNX model on CPU: tensors in, tensors out; it knows nothing about tasks or HTTP. By
 * default on worker threads, so inference never blocks the event loop; with several sessions,
 * each call goes to the least busy one. With engine settings, the first session measures its
 * own calls at load and engine-choice.ts places it (server thread or workers) and picks its
 * intra-op threads: a small graph is measured on the server thread first and stays there when
 * it fits, so no worker is started for it; otherwise on a worker, against the pool.
 */
export class OnnxSession {
  private constructor(
    private readonly engines: Engine[],
    readonly file: string,
    readonly engine: EngineReport,
  ) {}

  static async load(file: string, threads: ThreadSettings = {}, settings?: EngineSettings): Promise<OnnxSession> {
    const sessions = Math.max(1, threads.sessions ?? 1);
    const configured = { intraOpThreads: threads.intraOpThreads, interOpThreads: threads.interOpThreads };
    const undecided = settings !== undefined && (settings.placement !== 'worker' || threads.intraOpThreads === undefined);
    if (!undecided) {
      const workers = await startWorkers({ file, threads: configured }, sessions);
      return new OnnxSession(workers, file, { placement: 'worker', intraOpThreads: threads.intraOpThreads ?? 0, sessions, reason: 'on worker threads, as configured' });
    }
    const fileBytes = await stat(file).then((s) => s.size, () => Infinity);
    if (measureOnServerThreadFirst({ placement: settings.placement, sessions, fileBytes })) {
      const measured = await OnnxSession.onServerThread(file, threads, settings);
      if (measured) return measured;
    }
    const calibrate = { maxBatch: settings.maxBatch, skipAboveMs: settings.inlineMaxMs, compareSingleThread: threads.intraOpThreads === undefined };
    const [first] = await startWorkers({ file, threads: configured, calibrate }, 1);
    const calibration = first!.calibration;
    const choice: EngineChoice | undefined = calibration
      ? chooseEngine({ calibration, placement: settings.placement, inlineMaxMs: settings.inlineMaxMs, intraOpThreads: threads.intraOpThreads, sessions })
      : undefined;
    // Not measurable (string inputs, a fixed batch of 1): as configured, on workers unless inline was asked for.
    const placement = choice?.placement ?? (settings.placement === 'inline' ? 'inline' : 'worker');
    const intraOpThreads = choice?.intraOpThreads ?? threads.intraOpThreads ?? 0;
    const report = (count: number): EngineReport => ({
      placement,
      intraOpThreads,
      sessions: count,
      reason: choice?.reason ?? `${placement === 'inline' ? 'on the server thread' : 'on worker threads'}: the graph's inputs could not be made up to measure it`,
      ...(calibration ? { calibration } : {}),
    });
    try {
      if (placement === 'inline') {
        const inline = await InlineEngine.create(file, { ...configured, intraOpThreads });
        await first!.release();
        return new OnnxSession([inline], file, report(1));
      }
      first!.keep(intraOpThreads);
      const rest = sessions > 1 ? await startWorkers({ file, threads: { ...configured, intraOpThreads } }, sessions - 1) : [];
      return new OnnxSession([first!, ...rest], file, report(sessions));
    } catch (error) {
      await first!.release();
      throw error;
    }
  }

  /**
   * The session created on the server thread and measured there, with the threads it would
   * serve with; undefined (and released) when engine-choice.ts sends it to a worker instead.
   */
  private static async onServerThread(file: string, threads: ThreadSettings, settings: EngineSettings): Promise<OnnxSession | undefined> {
    const intraOpThreads = threads.intraOpThreads ?? 1;
    const inline = await InlineEngine.create(file, { intraOpThreads, interOpThreads: threads.interOpThreads }).catch((error: Error) => {
      throw new Error(`cannot load ${file}: ${error.message}`);
    });
    const giveUpMs = settings.placement === 'auto' ? serverThreadGiveUpMs(settings.inlineMaxMs) : Infinity;
    const cost = await inline.measure(settings.maxBatch, settings.inlineMaxMs, giveUpMs);
    const choice = chooseFromServerThread({ cost, placement: settings.placement, inlineMaxMs: settings.inlineMaxMs, maxBatch: settings.maxBatch, intraOpThreads: threads.intraOpThreads });
    if (!choice) {
      await inline.release();
      return undefined;
    }
    // One row, the threads it was measured with: one thread unless configured (Calibration's names).
    const calibration: Calibration | undefined = cost && (threads.intraOpThreads === undefined ? { single: cost, maxBatch: settings.maxBatch } : { pooled: cost, maxBatch: settings.maxBatch });
    return new OnnxSession([inline], file, { placement: 'inline', intraOpThreads: choice.intraOpThreads, sessions: 1, reason: choice.reason, ...(calibration ? { calibration } : {}) });
  }

  /** How many batches may run at once (one per session). */
  get concurrency(): number {
    return this.engines.length;
  }

  get inputNames(): string[] {
    return this.engines[0]!.inputs.map((m) => m.name);
  }

  get outputNames(): string[] {
    return this.engines[0]!.outputs.map((m) => m.name);
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
    const first = this.engines[0]!;
    return { inputs: first.inputs.map(toSpec), outputs: first.outputs.map(toSpec) };
  }

  run(feeds: Feeds): Promise<Outputs> {
    const worker = this.engines.reduce((least, w) => (w.busy < least.busy ? w : least));
    return worker.run(feeds);
  }

  async release(): Promise<void> {
    await Promise.all(this.engines.map((w) => w.release()));
  }
}
