import { PredictionLog, type PredictionLogOptions } from './prediction-log.js';
import type { LabelItem, PredictionRecord, PredictionStore, StoredPrediction } from './prediction-store.js';

/**
 * The embedded backend: the SQLite prediction log (prediction-log.ts) behind the store
 * interface. SQLite answers synchronously on this thread, so every method simply resolves with
 * what the log did; the log keeps its own buffering, chunked writes and background retention.
 */
export class SqlitePredictionStore implements PredictionStore {
  readonly kind = 'sqlite';
  readonly shared = false;
  readonly log: PredictionLog;

  constructor(options: PredictionLogOptions = {}) {
    this.log = new PredictionLog(options);
  }

  get location(): string {
    return this.log.path;
  }
  get inMemory(): boolean {
    return this.log.inMemory;
  }
  get maxRows(): number {
    return this.log.maxRows;
  }
  get maxAgeDays(): number {
    return this.log.maxAgeDays;
  }
  get dropped(): number {
    return this.log.dropped;
  }
  get written(): number {
    return this.log.written;
  }
  get pendingRows(): number {
    return this.log.pendingRows;
  }

  async start(): Promise<void> {}

  append(records: PredictionRecord[]): void {
    this.log.append(records);
  }

  async flush(): Promise<void> {
    this.log.flush();
  }

  async find(requestId: string): Promise<StoredPrediction[]> {
    return this.log.find(requestId);
  }

  async label(items: LabelItem[]): Promise<{ ok: true } | { ok: false; already: number }> {
    return this.log.label(items);
  }

  async recentLabelled(model: string, version: string, limit: number): Promise<StoredPrediction[]> {
    return this.log.recentLabelled(model, version, limit);
  }

  async count(): Promise<number> {
    return this.log.count();
  }

  async prune(): Promise<number> {
    return this.log.prune();
  }

  async close(): Promise<void> {
    this.log.close();
  }
}
