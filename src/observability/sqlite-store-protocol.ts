import type { PredictionRecord } from './prediction-row.js';
import type { LabelItem } from './prediction-store.js';

/** What the prediction log's writer thread is started with (threaded-sqlite-store.ts). */
export interface StoreWorkerData {
  path: string;
  maxRows?: number;
  maxAgeDays?: number;
  pruneIntervalMs?: number;
}

/** The server thread's messages, handled in order: rows appended before a call are in the database when it runs. */
export type ToStoreThread =
  | { type: 'append'; rows: PredictionRecord[] }
  | { type: 'call'; id: number; method: 'flush' | 'count' | 'prune' | 'close' }
  | { type: 'call'; id: number; method: 'find'; requestId: string }
  | { type: 'call'; id: number; method: 'label'; items: LabelItem[] }
  | { type: 'call'; id: number; method: 'recentLabelled'; model: string; version: string; limit: number };

export type FromStoreThread =
  | { type: 'ready' }
  | { type: 'failed'; message: string }
  /** After every write: the thread's running totals. */
  | { type: 'written'; written: number; dropped: number }
  | { type: 'write-error'; message: string; rows: number }
  | { type: 'reply'; id: number; result: unknown }
  | { type: 'reply'; id: number; error: string };
