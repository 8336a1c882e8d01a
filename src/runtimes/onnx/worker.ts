/**
 * Inference worker: owns one onnxruntime session. onnxruntime-node's `run()` executes on the
 * calling thread, so running it here keeps the server's event loop free for health checks,
 * metrics scrapes and tokenizing the next batch while this one computes.
 */
import { createRequire } from 'node:module';
import { parentPort, workerData } from 'node:worker_threads';
import type * as Ort from 'onnxruntime-node';
import { COMPARE_SINGLE_MAX_MS, measureCallCost } from './calibrate.js';
import type { WorkerCalibration } from './engine-choice.js';
import { transferables, type FromWorker, type ToWorker, type WireTensor, type WorkerInit, type TensorData } from './protocol.js';

// required, not imported: onnxruntime-node is CommonJS, and an ES import makes Node scan its
// sources (and onnxruntime-common's) for named exports in every worker. Measured: ~70 -> ~58 ms
// of CPU per worker start (median of 12 starts, real-time priority to keep other load out).
const ort = createRequire(import.meta.url)('onnxruntime-node') as typeof Ort;

const port = parentPort!;
const init = workerData as WorkerInit;
const send = (message: FromWorker, transfer: ArrayBuffer[] = []) => port.postMessage(message, transfer);

function toWire(tensor: Ort.Tensor): WireTensor {
  return { type: tensor.type, data: tensor.data as TensorData, dims: tensor.dims };
}

function createSession(intraOpThreads: number): Promise<Ort.InferenceSession> {
  const inter = init.threads.interOpThreads ?? 1;
  return ort.InferenceSession.create(init.file, {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    executionMode: inter > 1 ? 'parallel' : 'sequential',
    intraOpNumThreads: intraOpThreads,
    interOpNumThreads: inter,
  });
}

/**
 * The call cost with the configured threads and, when asked and the graph is small, with one
 * thread in a second session (kept in `candidates` until the server thread says which to keep).
 */
async function calibrate(session: Ort.InferenceSession, intraOpThreads: number, candidates: Map<number, Ort.InferenceSession>): Promise<WorkerCalibration | undefined> {
  const asked = init.calibrate;
  if (!asked) return undefined;
  const pooled = await measureCallCost(ort.Tensor, session, asked.maxBatch, asked.skipAboveMs);
  if (!pooled) return undefined;
  const calibration: WorkerCalibration = { pooled, maxBatch: asked.maxBatch };
  if (asked.compareSingleThread && intraOpThreads !== 1 && pooled.batch1Ms <= COMPARE_SINGLE_MAX_MS) {
    const single = await createSession(1);
    candidates.set(1, single);
    calibration.single = await measureCallCost(ort.Tensor, single, asked.maxBatch, asked.skipAboveMs);
  }
  return calibration;
}

async function main(): Promise<void> {
  let session: Ort.InferenceSession;
  const intraOpThreads = init.threads.intraOpThreads ?? 0;
  const candidates = new Map<number, Ort.InferenceSession>();
  let calibration: WorkerCalibration | undefined;
  try {
    session = await createSession(intraOpThreads);
    candidates.set(intraOpThreads, session);
  } catch (error) {
    send({ kind: 'load-failed', message: (error as Error).message });
    return;
  }
  /** Goes on with one session and releases the others measured against it. */
  const keepOnly = (kept: Ort.InferenceSession) => {
    for (const [threads, other] of candidates) {
      if (other === kept) continue;
      void other.release().catch(() => undefined);
      candidates.delete(threads);
    }
    session = kept;
  };
  // Made-up inputs may be out of a graph's range; the engine then stays as configured.
  calibration = await calibrate(session, intraOpThreads, candidates).catch(() => {
    keepOnly(session);
    return undefined;
  });
  const describe = (meta: readonly Ort.InferenceSession.ValueMetadata[]) =>
    meta.map((m) => (m.isTensor ? { name: m.name, isTensor: true, type: m.type, shape: m.shape } : { name: m.name, isTensor: false }));
  send({ kind: 'loaded', inputs: describe(session.inputMetadata), outputs: describe(session.outputMetadata), ...(calibration ? { calibration } : {}) });

  port.on('message', (message: ToWorker) => {
    if (message.kind === 'release') {
      void Promise.allSettled([...candidates.values()].map((s) => s.release())).finally(() => port.close());
      return;
    }
    if (message.kind === 'keep') {
      const kept = candidates.get(message.intraOpThreads);
      if (kept) keepOnly(kept);
      return;
    }
    const feeds: Record<string, Ort.Tensor> = {};
    for (const [name, wire] of Object.entries(message.feeds)) {
      feeds[name] = new ort.Tensor(wire.type as Ort.Tensor.Type, wire.data as never, wire.dims);
    }
    session.run(feeds).then(
      (results) => {
        const outputs: Record<string, WireTensor> = {};
        for (const [name, tensor] of Object.entries(results)) outputs[name] = toWire(tensor);
        send({ kind: 'result', id: message.id, outputs }, transferables(outputs));
      },
      (error: unknown) => send({ kind: 'failed', id: message.id, message: (error as Error).message }),
    );
  });
}

void main();
