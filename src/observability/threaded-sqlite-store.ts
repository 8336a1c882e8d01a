import { Worker } from 'node:worker_threads';
import { workerFile } from '../worker-file.js';
import { RowBuffer } from './row-buffer.js';
import { PredictionLog, type PredictionLogOptions } from './prediction-log.js';
import { DEFAULT_MAX_AGE_DAYS, DEFAULT_MAX_ROWS, DEFAULT_MEMORY_MAX_ROWS, MEMORY, type LabelItem, type PredictionRecord, type PredictionStore, type StoredPrediction } from './prediction-store.js';
import type { FromStoreThread, StoreWorkerData, ToStoreThread } from './sqlite-store-protocol.js';

/** Rows waiting (here and on their way to the writer thread) past this are dropped, oldest first. */
const MAX_PENDING = 50_000;

type Call = ToStoreThread extends infer M ? (M extends { type: 'call' } ? Omit<M, 'id' | 'type'> : never) : never;

/**
 * The embedded SQLite prediction log with its writes on a thread of their own
 * (sqlite-store-worker.ts): the server thread only queues rows and, every flushIntervalMs (or
 * once flushSize rows wait), posts them in one message. Each row cost ~8-11 µs of the server
 * thread when inserted there (three indexes, in transactions of 128), about 4 % of a small
 * model's request; lookups and the background prune run on that thread too.
 *
 * The crash window is the same as the in-thread log's: rows not yet written when the process
 * dies (the last flushIntervalMs, plus a write in progress) are lost; a clean stop writes them.
 * `--prediction-log-sync` (commit before the answer) and tests that inject a clock use the
 * in-thread store (sqlite-prediction-store.ts) instead.
 */
export class ThreadedSqliteStore implements PredictionStore {
  readonly kind = 'sqlite';
  readonly shared = false;
  readonly location: string;
  readonly inMemory: boolean;
  readonly maxRows: number;
  readonly maxAgeDays: number;
  private readonly worker: Worker;
  private readonly ready: Promise<void>;
  private failure: Error | undefined;
  private readonly pending: RowBuffer<PredictionRecord>;
  private posted = 0;
  private writtenThere = 0;
  private droppedThere = 0;
  private droppedHere = 0;
  private nextId = 0;
  private readonly calls = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  private closing: Promise<void> | undefined;
  /** Rejects start() when the thread dies before it has opened the database. */
  private notStarted: ((error: Error) => void) | undefined;

  constructor(private readonly options: Omit<PredictionLogOptions, 'synchronous' | 'now'> = {}) {
    this.location = options.path && options.path !== '' ? options.path : MEMORY;
    this.inMemory = this.location === MEMORY;
    this.maxRows = options.maxRows ?? (this.inMemory ? DEFAULT_MEMORY_MAX_ROWS : DEFAULT_MAX_ROWS);
    this.maxAgeDays = options.maxAgeDays ?? DEFAULT_MAX_AGE_DAYS;
    this.pending = new RowBuffer({
      flushSize: options.flushSize ?? 256,
      flushIntervalMs: options.flushIntervalMs ?? 200,
      maxPending: MAX_PENDING,
      due: () => this.post(),
      dropped: (rows) => this.drop(rows),
      inTransit: () => this.inTransit,
    });
    // Opened once here first, so a path that cannot be a database stops the start with the same
    // error as before, synchronously (the thread opens it again for good).
    if (!this.inMemory) new PredictionLog({ path: this.location, maxRows: 0, maxAgeDays: 0, pruneIntervalMs: 0 }).close();
    const data: StoreWorkerData = { path: this.location, maxRows: this.maxRows, maxAgeDays: this.maxAgeDays, pruneIntervalMs: options.pruneIntervalMs };
    this.worker = new Worker(workerFile(import.meta.url, 'observability/sqlite-store-worker.js', 'prediction log writer'), { workerData: data });
    // Referenced until it has opened the database (someone may be awaiting start()), then only
    // while a call waits: it never keeps the process alive by itself.
    this.ready = new Promise((resolve, reject) => {
      this.worker.once('message', (first: FromStoreThread) => {
        if (this.calls.size === 0) this.worker.unref();
        if (first.type === 'ready') resolve();
        else reject(new Error(first.type === 'failed' ? first.message : 'the prediction log writer did not start'));
      });
      this.notStarted = reject;
    });
    this.ready.catch((error: Error) => this.fail(error));
    this.worker.on('message', (message: FromStoreThread) => this.received(message));
    this.worker.on('error', (error) => this.fail(error));
    this.worker.on('exit', () => this.fail(new Error('the prediction log writer stopped')));
  }

  get dropped(): number {
    return this.droppedThere + this.droppedHere;
  }
  get written(): number {
    return this.writtenThere;
  }
  get pendingRows(): number {
    return this.pending.length + this.inTransit;
  }

  /** Rows posted to the writer thread that it has not yet written or dropped. */
  private get inTransit(): number {
    return this.posted - this.writtenThere - this.droppedThere;
  }

  start(): Promise<void> {
    return this.ready;
  }

  append(records: PredictionRecord[]): void {
    if (this.failure || this.closing || records.length === 0) {
      if (records.length > 0 && !this.closing) this.drop(records.length);
      return;
    }
    this.pending.add(records);
  }

  async flush(): Promise<void> {
    await this.call({ method: 'flush' });
  }

  async find(requestId: string): Promise<StoredPrediction[]> {
    return (await this.call({ method: 'find', requestId })) as StoredPrediction[];
  }

  async label(items: LabelItem[]): Promise<{ ok: true } | { ok: false; already: number }> {
    return (await this.call({ method: 'label', items })) as { ok: true } | { ok: false; already: number };
  }

  async recentLabelled(model: string, version: string, limit: number): Promise<StoredPrediction[]> {
    return (await this.call({ method: 'recentLabelled', model, version, limit })) as StoredPrediction[];
  }

  async count(): Promise<number> {
    return (await this.call({ method: 'count' })) as number;
  }

  async prune(): Promise<number> {
    return (await this.call({ method: 'prune' })) as number;
  }

  /** Writes what is queued, closes the database and ends the thread. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      if (!this.failure) await this.call({ method: 'close' }).catch(() => undefined);
      await this.worker.terminate();
    })();
    return this.closing;
  }

  /** The queued rows, to the writer thread in one message. */
  private post(): void {
    if (this.failure) return this.pending.stop();
    const rows = this.pending.take();
    if (rows.length === 0) return;
    this.posted += rows.length;
    this.worker.postMessage({ type: 'append', rows } satisfies ToStoreThread);
  }

  private call(request: Call): Promise<unknown> {
    if (this.failure) return Promise.reject(this.failure);
    // Rows first: the thread answers in order, so the call sees every row appended before it.
    this.post();
    const id = this.nextId++;
    if (this.calls.size === 0) this.worker.ref();
    return new Promise((resolve, reject) => {
      this.calls.set(id, { resolve, reject });
      this.worker.postMessage({ type: 'call', id, ...request } as ToStoreThread);
    });
  }

  private received(message: FromStoreThread): void {
    switch (message.type) {
      case 'written':
        this.writtenThere = message.written;
        this.droppedThere = message.dropped;
        return;
      case 'write-error':
        this.options.onError?.(new Error(message.message), message.rows);
        return;
      case 'reply': {
        const call = this.calls.get(message.id);
        if (!call) return;
        this.calls.delete(message.id);
        if (this.calls.size === 0) this.worker.unref();
        if ('error' in message) call.reject(new Error(message.error));
        else call.resolve(message.result);
        return;
      }
      default:
        return;
    }
  }

  private drop(rows: number): void {
    this.droppedHere += rows;
    this.options.onDrop?.(rows);
  }

  private fail(error: Error): void {
    if (this.failure) return;
    this.failure = error;
    this.notStarted?.(error);
    // What was still queued here or on its way is lost: counted, and said once.
    const lost = this.pendingRows;
    this.pending.clear();
    if (lost > 0 && !this.closing) {
      this.droppedHere += lost;
      this.options.onError?.(error, lost);
    }
    for (const call of this.calls.values()) call.reject(error);
    this.calls.clear();
  }
}
