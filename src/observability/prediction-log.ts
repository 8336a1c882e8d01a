import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type Database from 'better-sqlite3';
import { DEFAULT_MAX_AGE_DAYS, DEFAULT_MAX_ROWS, DEFAULT_MEMORY_MAX_ROWS, MEMORY } from './prediction-store.js';
import { finiteOrNull, recordColumns, storedPrediction, PREDICTION_COLUMNS, type PredictionRecord, type PredictionRow, type StoredPrediction } from './prediction-row.js';
import { RowBuffer } from './row-buffer.js';

/**
 * The prediction log: one SQLite row per prediction (request id, index within the request,
 * model, version, time, predicted label/score or value, fallback), so that a label arriving
 * hours later (POST /v1/feedback) can be joined with what the model said.
 *
 * - Never the raw input: only with `logInputs` is a PII-scrubbed copy of text inputs kept.
 * - Served from a writer thread by default (threaded-sqlite-store.ts runs this class there); on
 *   the server thread with `synchronous` commits.
 * - Writes stay off the request path: rows are buffered and inserted with a prepared statement
 *   on a short timer (`flushIntervalMs`, default 200 ms) or as soon as `flushSize` rows
 *   (default 256) are waiting, in transactions of at most 128 rows, one per turn of the event
 *   loop; `close()` flushes what is left. A lookup flushes first, so feedback always sees
 *   every prediction answered so far.
 * - Bounded: rows older than `maxAgeDays` and past the newest `maxRows` are deleted in the
 *   background (every `pruneIntervalMs`, 500 rows per turn of the event loop, so neither the
 *   database nor the server thread is held for long).
 * - File databases use WAL, so readers (sqlite3 on the command line) never block the server.
 */

export interface PredictionLogOptions {
  /** A file path, or ':memory:' (the default). */
  path?: string;
  maxRows?: number;
  maxAgeDays?: number;
  flushIntervalMs?: number;
  flushSize?: number;
  pruneIntervalMs?: number;
  /**
   * Commit each request's rows before its answer is sent, instead of on the flush timer: an
   * answered prediction then survives a crash of the process (kill -9, OOM), at the price of
   * one transaction per request on the server thread (docs/reliability.md has the measured
   * cost). Off: a crash loses at most the rows of the last flushIntervalMs (plus a flush in
   * progress); a clean stop (SIGTERM) loses none.
   */
  synchronous?: boolean;
  /** Called when a flush fails (the rows are dropped, counted in `dropped`). */
  onError?: (error: Error, rows: number) => void;
  /** Called when rows are dropped because too many are waiting. */
  onDrop?: (rows: number) => void;
  now?: () => number;
}

/**
 * better-sqlite3, loaded by the first log opened: the default server keeps its log in memory
 * (memory-prediction-store.ts) and never loads the native module (startup.test.ts checks).
 * A require, not an import(): opening a log is synchronous, so that a bad path stops the start.
 */
let sqlite: typeof Database | undefined;
const openDatabase = (file: string): Database.Database => new (sqlite ??= createRequire(import.meta.url)('better-sqlite3') as typeof Database)(file);

/** Rows waiting past this (the database refuses writes) are dropped, oldest first: memory stays bounded. */
const MAX_PENDING = 50_000;
/**
 * Rows per statement when pruning, and per transaction when writing on the timer. The
 * background passes do one chunk per turn of the event loop (about a millisecond each), so a
 * request never waits behind a minute's worth of deletes (~100,000 rows at 1,700 predictions
 * per second took ~150 ms in one call) or a big flush.
 */
const PRUNE_CHUNK = 500;
const FLUSH_CHUNK = 128;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS predictions (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  request_id TEXT NOT NULL,
  idx INTEGER NOT NULL,
  model TEXT NOT NULL,
  version TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  label TEXT,
  score REAL,
  value REAL,
  fallback_from TEXT,
  fallback_reason TEXT,
  input TEXT,
  true_label TEXT,
  true_value REAL,
  labelled_at INTEGER,
  shadow INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS predictions_request ON predictions (request_id, idx);
CREATE INDEX IF NOT EXISTS predictions_created ON predictions (created_at);
CREATE INDEX IF NOT EXISTS predictions_labelled ON predictions (model, version, labelled_at) WHERE labelled_at IS NOT NULL;
`;

export class PredictionLog {
  readonly path: string;
  readonly maxRows: number;
  readonly maxAgeDays: number;
  /** Rows lost because the database refused them or the buffer overflowed. */
  dropped = 0;
  /** Rows written so far. */
  written = 0;
  private readonly db: Database.Database;
  private readonly pending: RowBuffer<PredictionRecord>;
  private readonly pruneTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly now: () => number;
  private readonly insert: Database.Statement;
  private readonly insertMany: (rows: PredictionRecord[]) => void;
  private readonly byRequest: Database.Statement;
  private readonly labelledOf: Database.Statement;
  private readonly setLabel: Database.Statement;
  private readonly deleteOlder: Database.Statement;
  private readonly rowBoundary: Database.Statement;
  private readonly deleteUpTo: Database.Statement;
  /** A background prune pass is under way. */
  private pruning = false;

  constructor(private readonly options: PredictionLogOptions = {}) {
    this.path = options.path && options.path !== '' ? options.path : MEMORY;
    this.now = options.now ?? Date.now;
    this.pending = new RowBuffer({
      flushSize: options.flushSize ?? 256,
      flushIntervalMs: options.flushIntervalMs ?? 200,
      maxPending: MAX_PENDING,
      due: () => this.flushInBackground(),
      dropped: (rows) => {
        this.dropped += rows;
        this.options.onDrop?.(rows);
      },
    });
    const inMemory = this.path === MEMORY;
    this.maxRows = options.maxRows ?? (inMemory ? DEFAULT_MEMORY_MAX_ROWS : DEFAULT_MAX_ROWS);
    this.maxAgeDays = options.maxAgeDays ?? DEFAULT_MAX_AGE_DAYS;
    try {
      if (!inMemory) mkdirSync(path.dirname(path.resolve(this.path)), { recursive: true });
      this.db = openDatabase(this.path);
      if (!inMemory) this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = NORMAL');
      this.db.pragma('busy_timeout = 2000');
      this.db.exec(SCHEMA);
      addShadowColumn(this.db);
    } catch (error) {
      throw new Error(`cannot open the prediction log ${this.path}: ${(error as Error).message}`, { cause: error });
    }
    this.insert = this.db.prepare(
      `INSERT INTO predictions (request_id, idx, model, version, created_at, label, score, value, fallback_from, fallback_reason, input, shadow)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.insertMany = this.db.transaction((rows: PredictionRecord[]) => {
      for (const r of rows) {
        this.insert.run(...recordColumns(r), r.shadow ? 1 : 0);
      }
    });
    this.byRequest = this.db.prepare(`SELECT ${PREDICTION_COLUMNS} FROM predictions WHERE request_id = ? ORDER BY idx, id`);
    this.labelledOf = this.db.prepare(`SELECT ${PREDICTION_COLUMNS} FROM predictions WHERE model = ? AND version = ? AND labelled_at IS NOT NULL ORDER BY labelled_at DESC, id DESC LIMIT ?`);
    this.setLabel = this.db.prepare('UPDATE predictions SET true_label = ?, true_value = ?, labelled_at = ? WHERE id = ? AND labelled_at IS NULL');
    // ORDER BY created_at lets SQLite use predictions_created; ORDER BY id scanned the whole table at every prune.
    this.deleteOlder = this.db.prepare('DELETE FROM predictions WHERE id IN (SELECT id FROM predictions WHERE created_at < ? ORDER BY created_at LIMIT ?)');
    this.rowBoundary = this.db.prepare('SELECT id FROM predictions ORDER BY id DESC LIMIT 1 OFFSET ?');
    this.deleteUpTo = this.db.prepare('DELETE FROM predictions WHERE id IN (SELECT id FROM predictions WHERE id <= ? ORDER BY id LIMIT ?)');
    this.prune();
    const every = options.pruneIntervalMs ?? 60_000;
    if (every > 0) {
      this.pruneTimer = setInterval(() => this.pruneInBackground(), every);
      this.pruneTimer.unref();
    }
  }

  get inMemory(): boolean {
    return this.path === MEMORY;
  }

  /** Queues rows; they are written within flushIntervalMs (or at once past flushSize). Never throws. */
  append(records: PredictionRecord[]): void {
    if (this.closed || records.length === 0) return;
    if (this.options.synchronous && this.pending.length === 0) {
      this.write(records);
      return;
    }
    this.pending.add(records);
  }

  /** The timer's flush: FLUSH_CHUNK rows per transaction, one transaction per turn of the event loop. */
  private flushInBackground(): void {
    if (this.pending.length <= FLUSH_CHUNK) return this.flush();
    this.write(this.pending.take(FLUSH_CHUNK));
    this.pending.dueSoon();
  }

  get pendingRows(): number {
    return this.pending.length;
  }

  /** Writes every queued row now, in one transaction. */
  flush(): void {
    if (!this.db.open) return this.pending.stop();
    const rows = this.pending.take();
    if (rows.length > 0) this.write(rows);
  }

  private write(rows: PredictionRecord[]): void {
    if (!this.db.open) return;
    try {
      this.insertMany(rows);
      this.written += rows.length;
    } catch (error) {
      this.dropped += rows.length;
      this.options.onError?.(error as Error, rows.length);
    }
  }

  /** Every prediction of a request (a client may reuse a request id: newest last), flushing first. */
  find(requestId: string): StoredPrediction[] {
    this.flush();
    const rows = this.byRequest.all(requestId) as PredictionRow[];
    return rows.map(storedPrediction);
  }

  /**
   * Records labels; all or none. Each row must still be unlabelled (else `already` holds its id
   * and nothing is written), so two concurrent senders cannot both label one prediction. An
   * `optional` row (a shadow copy riding along with the answer's label) is skipped instead.
   */
  label(items: { id: number; trueLabel?: string; trueValue?: number; labelledAt: number; optional?: boolean }[]): { ok: true } | { ok: false; already: number } {
    const run = this.db.transaction(() => {
      for (const item of items) {
        const result = this.setLabel.run(item.trueLabel ?? null, finiteOrNull(item.trueValue), Math.round(item.labelledAt), item.id);
        if (result.changes === 0 && !item.optional) throw new AlreadyLabelled(item.id);
      }
    });
    try {
      run();
      return { ok: true };
    } catch (error) {
      if (error instanceof AlreadyLabelled) return { ok: false, already: error.id };
      throw error;
    }
  }

  /** The newest `limit` labelled predictions of a model version, oldest first (label arrival order). */
  recentLabelled(model: string, version: string, limit: number): StoredPrediction[] {
    this.flush();
    const rows = this.labelledOf.all(model, version, limit) as PredictionRow[];
    return rows.reverse().map(storedPrediction);
  }

  count(): number {
    this.flush();
    return (this.db.prepare('SELECT COUNT(*) AS n FROM predictions').get() as { n: number }).n;
  }

  /** Deletes rows past the age and row limits, all of them now; returns how many went. */
  prune(): number {
    if (!this.db.open) return 0;
    const pass = this.prunePass();
    try {
      for (;;) {
        const step = pass.next();
        if (step.done) return step.value;
      }
    } catch (error) {
      this.options.onError?.(error as Error, 0);
      return 0;
    }
  }

  /** The timer's prune: one chunk per turn of the event loop until the pass is done. */
  private pruneInBackground(): void {
    if (this.pruning || !this.db.open) return;
    this.pruning = true;
    const pass = this.prunePass();
    const step = () => {
      try {
        if (this.db.open && !pass.next().done) {
          setImmediate(step);
          return;
        }
      } catch (error) {
        this.options.onError?.(error as Error, 0);
      }
      this.pruning = false;
    };
    step();
  }

  /**
   * Deletes rows older than maxAgeDays, then the oldest past the newest maxRows, PRUNE_CHUNK
   * rows per step (a yield); returns how many went. Limits are taken when the pass starts.
   */
  private *prunePass(): Generator<void, number, void> {
    let deleted = 0;
    if (this.maxAgeDays > 0) {
      const cutoff = this.now() - this.maxAgeDays * 86_400_000;
      for (let changes = PRUNE_CHUNK; changes === PRUNE_CHUNK; ) {
        changes = this.deleteOlder.run(cutoff, PRUNE_CHUNK).changes;
        deleted += changes;
        if (changes === PRUNE_CHUNK) yield;
      }
    }
    const boundary = this.maxRows > 0 ? (this.rowBoundary.get(this.maxRows) as { id: number } | undefined) : undefined;
    if (boundary) {
      for (let changes = PRUNE_CHUNK; changes === PRUNE_CHUNK; ) {
        changes = this.deleteUpTo.run(boundary.id, PRUNE_CHUNK).changes;
        deleted += changes;
        if (changes === PRUNE_CHUNK) yield;
      }
    }
    return deleted;
  }

  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    clearInterval(this.pruneTimer);
    if (this.db.open) this.db.close();
  }
}

/** Logs written before shadow copies were logged lack the column; every row in them was an answer. */
function addShadowColumn(db: Database.Database): void {
  const columns = db.prepare('PRAGMA table_info(predictions)').all() as { name: string }[];
  if (!columns.some((c) => c.name === 'shadow')) db.exec('ALTER TABLE predictions ADD COLUMN shadow INTEGER NOT NULL DEFAULT 0');
}

class AlreadyLabelled extends Error {
  constructor(readonly id: number) {
    super(`prediction ${id} is already labelled`);
  }
}
