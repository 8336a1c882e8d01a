/**
 * Inference worker: owns one onnxruntime session. onnxruntime-node's `run()` executes on the
 * calling thread, so running it here keeps the server's event loop free for health checks,
 * metrics scrapes and tokenizing the next batch while this one computes.
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { transferables, type FromWorker, type ToWorker, type WireTensor, type WorkerInit, type TensorData } from './protocol.js';

const port = parentPort!;
const init = workerData as WorkerInit;
const send = (message: FromWorker, transfer: ArrayBuffer[] = []) => port.postMessage(message, transfer);

function toWire(tensor: ort.Tensor): WireTensor {
  return { type: tensor.type, data: tensor.data as TensorData, dims: tensor.dims };
}

async function main(): Promise<void> {
  let session: ort.InferenceSession;
  try {
    const inter = init.settings.interOpThreads ?? 1;
    session = await ort.InferenceSession.create(init.file, {
      executionProviders: ['cpu'],
      graphOptimizationLevel: 'all',
      executionMode: inter > 1 ? 'parallel' : 'sequential',
      intraOpNumThreads: init.settings.intraOpThreads ?? 0,
      interOpNumThreads: inter,
      ...(init.settings.lowMemory ? { extra: { session: { disable_prepacking: '1' } } } : {}),
    });
  } catch (error) {
    send({ kind: 'load-failed', message: (error as Error).message });
    return;
  }
  const describe = (meta: readonly ort.InferenceSession.ValueMetadata[]) =>
    meta.map((m) => (m.isTensor ? { name: m.name, isTensor: true, type: m.type, shape: m.shape } : { name: m.name, isTensor: false }));
  send({ kind: 'loaded', inputs: describe(session.inputMetadata), outputs: describe(session.outputMetadata) });

  port.on('message', (message: ToWorker) => {
    if (message.kind === 'release') {
      void session.release().finally(() => port.close());
      return;
    }
    const feeds: Record<string, ort.Tensor> = {};
    for (const [name, wire] of Object.entries(message.feeds)) {
      feeds[name] = new ort.Tensor(wire.type as ort.Tensor.Type, wire.data as never, wire.dims);
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
