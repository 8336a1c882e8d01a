/**
 * The prediction log's writer thread: owns the SQLite connection (prediction-log.ts) and does
 * every insert, lookup and prune there, so none of them runs on the server thread. Messages
 * come in order, so a lookup sees every row appended before it.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { PredictionLog } from './prediction-log.js';
import type { FromStoreThread, StoreWorkerData, ToStoreThread } from './sqlite-store-protocol.js';

const port = parentPort!;
const post = (message: FromStoreThread) => port.postMessage(message);
const data = workerData as StoreWorkerData;

let log: PredictionLog;
try {
  log = new PredictionLog({
    path: data.path,
    maxRows: data.maxRows,
    maxAgeDays: data.maxAgeDays,
    pruneIntervalMs: data.pruneIntervalMs,
    onError: (error, rows) => post({ type: 'write-error', message: error.message, rows }),
  });
  post({ type: 'ready' });
} catch (error) {
  post({ type: 'failed', message: (error as Error).message });
  port.close();
  throw error;
}

function answer(message: Extract<ToStoreThread, { type: 'call' }>): unknown {
  switch (message.method) {
    case 'flush':
      log.flush();
      return undefined;
    case 'count':
      return log.count();
    case 'prune':
      return log.prune();
    case 'find':
      return log.find(message.requestId);
    case 'label':
      return log.label(message.items);
    case 'recentLabelled':
      return log.recentLabelled(message.model, message.version, message.limit);
    case 'close':
      log.close();
      return undefined;
  }
}

port.on('message', (message: ToStoreThread) => {
  if (message.type === 'append') {
    // Written at once: the rows have already waited out the server thread's flush interval.
    log.append(message.rows);
    log.flush();
    post({ type: 'written', written: log.written, dropped: log.dropped });
    return;
  }
  try {
    post({ type: 'reply', id: message.id, result: answer(message) });
  } catch (error) {
    post({ type: 'reply', id: message.id, error: (error as Error).message });
  }
  if (message.method === 'close') port.close();
});
