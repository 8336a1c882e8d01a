/**
 * Inference worker: owns one onnxruntime session. onnxruntime-node's `run()` executes on the
 * calling thread, so running it here keeps the server's event loop free for health checks,
 * metrics scrapes and tokenizing the next batch while this one computes.
 */
import { createRequire } from 'node:module';
import { parentPort, workerData } from 'node:worker_threads';
import type * as Ort from 'onnxruntime-node';
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

async function main(): Promise<void> {
  let session: Ort.InferenceSession;
  try {
    const inter = init.threads.interOpThreads ?? 1;
    session = await ort.InferenceSession.create(init.file, {
      executionProviders: ['cpu'],
      graphOptimizationLevel: 'all',
      executionMode: inter > 1 ? 'parallel' : 'sequential',
      intraOpNumThreads: init.threads.intraOpThreads ?? 0,
      interOpNumThreads: inter,
    });
  } catch (error) {
    send({ kind: 'load-failed', message: (error as Error).message });
    return;
  }
  const describe = (meta: readonly Ort.InferenceSession.ValueMetadata[]) =>
    meta.map((m) => (m.isTensor ? { name: m.name, isTensor: true, type: m.type, shape: m.shape } : { name: m.name, isTensor: false }));
  send({ kind: 'loaded', inputs: describe(session.inputMetadata), outputs: describe(session.outputMetadata) });

  port.on('message', (message: ToWorker) => {
    if (message.kind === 'release') {
      void session.release().finally(() => port.close());
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
