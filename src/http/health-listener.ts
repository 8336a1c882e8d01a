import { Worker } from 'node:worker_threads';
import { HEARTBEAT_INTERVAL_MS, type FromHealthThread, type HealthWorkerData, type Readiness, type ToHealthThread } from './health-state.js';
import { workerFile } from '../worker-file.js';

/**
 * The server thread's side of the health port (--health-port): starts the health thread
 * (health-worker.ts), stores a heartbeat into shared memory every HEARTBEAT_INTERVAL_MS from
 * a timer of this event loop, and posts the readiness to the health thread whenever it changes
 * (checked at each heartbeat, and at once when told, as at the start of a drain). The thread is
 * unref'd: it never keeps the process alive, and close() ends it with the server.
 */

export interface HealthListener {
  /** The port as bound (0 resolves to the real one). */
  port: number;
  /** Posts the readiness now if it changed (the drain calls it instead of waiting for the next beat). */
  update(): void;
  close(): Promise<void>;
}

export interface HealthListenerOptions {
  host: string;
  port: number;
  stallMs: number;
  startedAt: number;
  /** The main `/ready` body, as of now. */
  readiness: () => Readiness;
  /** An error of the health thread after it started (its port is then gone: liveness probes fail). */
  onFailure: (error: Error) => void;
}

/** The listener could not start (the port is in use, the address is not this machine's). */
export class HealthListenError extends Error {
  constructor(message: string, readonly code?: string) {
    super(message);
  }
}

export async function startHealthListener(options: HealthListenerOptions): Promise<HealthListener> {
  const shared = new SharedArrayBuffer(BigInt64Array.BYTES_PER_ELEMENT);
  const heartbeat = new BigInt64Array(shared);
  const beat = () => Atomics.store(heartbeat, 0, process.hrtime.bigint());
  beat();
  let posted = options.readiness();
  let postedText = JSON.stringify(posted);
  const worker = new Worker(workerFile(import.meta.url, 'http/health-worker.js', 'health worker'), {
    workerData: { host: options.host, port: options.port, stallMs: options.stallMs, startedAt: options.startedAt, heartbeat: shared, readiness: posted } satisfies HealthWorkerData,
    // Its own small heap: it holds a readiness document and a few sockets.
    resourceLimits: { maxOldGenerationSizeMb: 32 },
  });
  worker.unref();

  const port = await new Promise<number>((resolve, reject) => {
    const onMessage = (message: FromHealthThread) => {
      cleanup();
      if (message.type === 'listening') resolve(message.port);
      else reject(new HealthListenError(message.message, message.code));
    };
    const onError = (error: Error) => {
      cleanup();
      reject(new HealthListenError(`the health thread failed: ${error.message}`));
    };
    const onExit = (code: number) => {
      cleanup();
      reject(new HealthListenError(`the health thread exited (code ${code}) before listening`));
    };
    const cleanup = () => {
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
    };
    worker.on('message', onMessage);
    worker.once('error', onError);
    worker.once('exit', onExit);
  }).catch(async (error: unknown) => {
    await worker.terminate();
    throw error;
  });

  let closed = false;
  worker.on('error', (error) => {
    if (!closed) options.onFailure(new Error(`the health thread failed: ${error.message}`));
  });
  worker.on('exit', (code) => {
    if (!closed) options.onFailure(new Error(`the health thread exited (code ${code})`));
  });

  const update = () => {
    const readiness = options.readiness();
    const text = JSON.stringify(readiness);
    if (text === postedText) return;
    posted = readiness;
    postedText = text;
    worker.postMessage({ type: 'readiness', readiness: posted } satisfies ToHealthThread);
  };
  const timer = setInterval(() => {
    beat();
    update();
  }, HEARTBEAT_INTERVAL_MS);
  timer.unref();

  return {
    port,
    update,
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      await worker.terminate();
    },
  };
}
