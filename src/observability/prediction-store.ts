import type { PredictionRecord, StoredPrediction } from './prediction-row.js';

export type { PredictionRecord, StoredPrediction } from './prediction-row.js';

/** `--prediction-log` for a log in memory (also the default). */
export const MEMORY = ':memory:';
/** Retention defaults every backend shares (PostgreSQL's own row default is larger). */
export const DEFAULT_MAX_ROWS = 1_000_000;
export const DEFAULT_MEMORY_MAX_ROWS = 100_000;
export const DEFAULT_MAX_AGE_DAYS = 30;

/**
 * What the model monitor needs from a prediction log, whatever keeps it: this process's memory
 * (the default: `memory-prediction-store.ts`), SQLite (a file, one node:
 * `sqlite-prediction-store.ts`) or PostgreSQL (shared by a fleet of replicas:
 * `postgres-prediction-store.ts`). `append` is the only call on the request path: it queues and
 * never throws nor waits. Everything else is asynchronous, since a database over the network
 * answers later; a store that cannot answer now throws a VigilError (503 + Retry-After).
 */
export interface PredictionStore {
  readonly kind: 'memory' | 'sqlite' | 'postgres';
  /** Where the rows go, safe to log (a PostgreSQL URL without its password). */
  readonly location: string;
  /** Rows are lost at exit (SQLite in memory). */
  readonly inMemory: boolean;
  /** Every replica sees every row (feedback sent to any replica joins). */
  readonly shared: boolean;
  readonly maxRows: number;
  readonly maxAgeDays: number;
  /** Rows lost so far: refused by the database, or past the buffer's bound while it was away. */
  readonly dropped: number;
  /** Rows written so far. */
  readonly written: number;
  /** Rows waiting to be written. */
  readonly pendingRows: number;

  /** Ready to take lookups (schema migrated); rows appended before are kept in the buffer. */
  start(): Promise<void>;
  /** Queues rows for a background write. Never throws, never blocks. */
  append(records: PredictionRecord[]): void;
  /** Writes what is queued now (best effort for a remote store: rows stay queued if it is away). */
  flush(): Promise<void>;
  /** Every prediction of a request id, oldest first by index (own queued rows included). */
  find(requestId: string): Promise<StoredPrediction[]>;
  /**
   * Records labels, all or none: each non-optional row must still be unlabelled, else
   * `already` names it and nothing is written. Optional rows (shadow copies) are skipped.
   */
  label(items: LabelItem[]): Promise<{ ok: true } | { ok: false; already: number }>;
  /** The newest `limit` labelled predictions of a model version, oldest first. */
  recentLabelled(model: string, version: string, limit: number): Promise<StoredPrediction[]>;
  count(): Promise<number>;
  /** Deletes rows past the age and row limits now; returns how many went. */
  prune(): Promise<number>;
  /** Flushes what it can and lets go of the database. */
  close(): Promise<void>;
}

export interface LabelItem {
  id: number;
  trueLabel?: string;
  trueValue?: number;
  labelledAt: number;
  optional?: boolean;
}

/** Hooks a store calls so the monitor can count and log without the store knowing prom-client. */
export interface StoreEvents {
  /** A write failed for good (the rows are dropped and counted in `dropped`). */
  onError?: (error: Error, rows: number) => void;
  /** Rows were dropped because too many were waiting. */
  onDrop?: (rows: number) => void;
  /** The database became reachable (true) or unreachable (false). */
  onConnection?: (up: boolean, error?: Error) => void;
}
