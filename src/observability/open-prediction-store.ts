import { parseStoreTarget } from '../store/target.js';
import { PostgresPredictionStore } from './postgres-prediction-store.js';
import { MEMORY, type PredictionStore, type StoreEvents } from './prediction-store.js';
import { MemoryPredictionStore } from './memory-prediction-store.js';
import { SqlitePredictionStore } from './sqlite-prediction-store.js';
import { ThreadedSqliteStore } from './threaded-sqlite-store.js';

export interface StoreOptions {
  /** `--prediction-log`: ':memory:' (default, this process's heap), a SQLite file or postgres://user@host:port/db (store/target.ts). */
  path?: string;
  maxRows?: number;
  maxAgeDays?: number;
  flushIntervalMs?: number;
  flushSize?: number;
  pruneIntervalMs?: number;
  /** PostgreSQL: rows kept while the database is away (default 50,000); past it dropped and counted. */
  bufferRows?: number;
  /** SQLite: commit each request's rows before its answer (PredictionLogOptions.synchronous). */
  synchronous?: boolean;
  now?: () => number;
}

/** The backend the target names; throws InvalidStoreTarget (naming the value) for anything else. */
export function openPredictionStore(options: StoreOptions, events: StoreEvents = {}): PredictionStore {
  const target = parseStoreTarget(options.path);
  const common = { maxRows: options.maxRows, maxAgeDays: options.maxAgeDays, flushIntervalMs: options.flushIntervalMs, flushSize: options.flushSize, pruneIntervalMs: options.pruneIntervalMs, now: options.now };
  if (target.kind === 'postgres') return new PostgresPredictionStore({ ...common, url: target.url, bufferRows: options.bufferRows, ...events });
  // In memory, rows are lost at exit whoever holds them: this process's heap holds them for
  // the least CPU per row (memory-prediction-store.ts). Synchronous commits mean nothing there.
  if (target.path === MEMORY) return new MemoryPredictionStore({ maxRows: options.maxRows, maxAgeDays: options.maxAgeDays, pruneIntervalMs: options.pruneIntervalMs, now: options.now });
  const sqlite = { ...common, path: target.path, onError: events.onError, onDrop: events.onDrop };
  // Writes on a thread of their own, unless each request's rows must be committed before its
  // answer, or a test drives the clock (neither crosses to another thread).
  if (options.synchronous || options.now) return new SqlitePredictionStore({ ...sqlite, synchronous: options.synchronous });
  return new ThreadedSqliteStore(sqlite);
}
