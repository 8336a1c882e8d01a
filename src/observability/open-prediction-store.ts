import { parseStoreTarget } from '../store/target.js';
import { PostgresPredictionStore } from './postgres-prediction-store.js';
import type { PredictionStore, StoreEvents } from './prediction-store.js';
import { SqlitePredictionStore } from './sqlite-prediction-store.js';

export interface StoreOptions {
  /** `--prediction-log`: a SQLite file, ':memory:' (default) or postgres://user@host:port/db (store/target.ts). */
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
  return new SqlitePredictionStore({ ...common, path: target.path, synchronous: options.synchronous, onError: events.onError, onDrop: events.onDrop });
}
