import { hostname } from 'node:os';
import type pg from 'pg';
import { VigilError } from '../errors.js';
import { createPool, describeError, isRefusedStatement, migrate, type PoolLike } from '../store/postgres.js';
import { redactUrl } from '../store/target.js';
import { finiteOrNull, PREDICTION_COLUMNS, recordColumns, storedPrediction, type PredictionRow } from './prediction-row.js';
import type { LabelItem, PredictionRecord, PredictionStore, StoreEvents, StoredPrediction } from './prediction-store.js';

/**
 * The fleet backend: every replica writes its predictions into one PostgreSQL table, so a label
 * sent to any replica joins the prediction whichever replica made it.
 *
 * - Off the hot path: `append` queues; one writer sends what is queued as a single multi-row
 *   INSERT (unnest of arrays, up to BATCH_ROWS rows) every `flushIntervalMs`, or at once past
 *   `flushSize` rows. One batch is in flight at a time.
 * - A lost connection: the batch goes back to the front of the queue and the writer retries
 *   with a growing pause (up to 5 s); predictions are answered all along and readiness does not
 *   change. The queue holds at most `bufferRows` rows; rows past it are dropped and counted
 *   (`dropped`, onDrop) as they arrive, so the count is exact. A batch the database refuses as
 *   such (a data error) is dropped and counted, as retrying it could never succeed.
 * - Retention runs on every replica, but one at a time: a pass takes a session advisory lock
 *   with pg_try_advisory_lock and the others skip their turn; deletes go in chunks.
 * - Migrations (store/postgres.ts) run once per database under an advisory lock.
 */

export interface PostgresStoreOptions extends StoreEvents {
  url: string;
  maxRows?: number;
  maxAgeDays?: number;
  flushIntervalMs?: number;
  flushSize?: number;
  /** Rows kept while the database is away; past it they are dropped and counted. */
  bufferRows?: number;
  pruneIntervalMs?: number;
  /**
   * Written with each row: which process answered (default: host name, a pod's name, with the
   * process id and start time, so two processes never share it).
   */
  replica?: string;
  now?: () => number;
  env?: NodeJS.ProcessEnv;
}

export const DEFAULT_POSTGRES_MAX_ROWS = 10_000_000;
export const DEFAULT_BUFFER_ROWS = 50_000;
const BATCH_ROWS = 1000;
const PRUNE_CHUNK = 5000;
/** Any constant works; every replica takes the same one ("vigp" in ASCII). */
const PRUNE_LOCK = 0x76696770;

/** A lookup the database cannot answer now: the caller may retry (503, not the caller's fault). */
export class PredictionLogUnavailable extends VigilError {
  constructor(detail: string) {
    super(503, 'prediction_log_unavailable', `the prediction log (PostgreSQL) cannot be reached: ${detail}; retry shortly`, { retryAfterSeconds: 5 });
  }
}

export class PostgresPredictionStore implements PredictionStore {
  readonly kind = 'postgres';
  readonly shared = true;
  readonly inMemory = false;
  readonly location: string;
  readonly maxRows: number;
  readonly maxAgeDays: number;
  dropped = 0;
  written = 0;
  /** Schema migrated and the last statement went through. */
  up = false;
  private readonly pool: PoolLike;
  private readonly replica: string;
  private readonly now: () => number;
  private readonly bufferRows: number;
  private pending: (PredictionRecord & { seq?: number })[] = [];
  /** Numbers this process's rows: with `replica`, the key that makes a retried batch idempotent. */
  private seq = 0;
  private timer: NodeJS.Timeout | undefined;
  private pruneTimer: NodeJS.Timeout | undefined;
  /** The batch being sent, if any (its rows are out of `pending` meanwhile). */
  private inFlight: Promise<void> | undefined;
  private inFlightRows = 0;
  private retryDelayMs = 0;
  private migrated: Promise<void> | undefined;
  /** The schema is in place: the writer may run (before it, an INSERT would hit no table). */
  private schemaReady = false;
  private closed = false;

  constructor(private readonly options: PostgresStoreOptions) {
    this.location = redactUrl(options.url);
    this.maxRows = options.maxRows ?? DEFAULT_POSTGRES_MAX_ROWS;
    this.maxAgeDays = options.maxAgeDays ?? 30;
    this.bufferRows = options.bufferRows ?? DEFAULT_BUFFER_ROWS;
    this.replica = options.replica ?? `${hostname()}:${process.pid}:${Date.now().toString(36)}`;
    this.now = options.now ?? Date.now;
    this.pool = createPool({ url: options.url, env: options.env, applicationName: 'vigil prediction log' });
  }

  get pendingRows(): number {
    return this.pending.length + this.inFlightRows;
  }

  /**
   * Migrates the schema, retrying while the database is away (start-up does not wait for it:
   * rows queue meanwhile, and lookups wait for this). Resolves once migrated.
   */
  start(): Promise<void> {
    this.migrated ??= (async () => {
      for (let delay = 250; !this.closed; delay = Math.min(delay * 2, 5000)) {
        try {
          await migrate(this.pool);
          this.schemaReady = true;
          this.connected(true);
          break;
        } catch (error) {
          this.connected(false, error as Error);
          await new Promise((resolve) => setTimeout(resolve, delay).unref());
        }
      }
      if (this.closed) return;
      const every = this.options.pruneIntervalMs ?? 60_000;
      if (every > 0) {
        this.pruneTimer = setInterval(() => void this.prune().catch(() => undefined), every);
        this.pruneTimer.unref();
      }
      this.schedule(0);
    })();
    return this.migrated;
  }

  private connected(up: boolean, error?: Error): void {
    if (up === this.up && up) return;
    const changed = up !== this.up;
    this.up = up;
    if (changed || error) this.options.onConnection?.(up, error && new Error(describeError(error, this.options.url)));
  }

  append(records: PredictionRecord[]): void {
    if (this.closed || records.length === 0) return;
    const room = this.bufferRows - this.pendingRows;
    if (room < records.length) {
      const lost = records.length - Math.max(0, room);
      this.dropped += lost;
      this.options.onDrop?.(lost);
      if (room <= 0) return;
      records = records.slice(0, room);
    }
    for (const r of records) this.pending.push({ ...r, seq: ++this.seq });
    if (this.pending.length >= (this.options.flushSize ?? 256)) this.schedule(0);
    else this.schedule(this.options.flushIntervalMs ?? 200);
  }

  /** Arms the writer unless a write is running or already due sooner. */
  private schedule(delayMs: number): void {
    if (this.closed || this.inFlight || !this.schemaReady) return;
    if (this.retryDelayMs > 0) delayMs = Math.max(delayMs, this.retryDelayMs);
    if (this.timer) {
      if (delayMs > 0) return;
      clearTimeout(this.timer);
    }
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.writeBatch();
    }, delayMs);
    this.timer.unref();
  }

  /** Sends one batch; on success goes on at once while rows wait, on a lost connection retries later. */
  private writeBatch(): Promise<void> {
    if (this.inFlight) return this.inFlight;
    if (this.pending.length === 0) return Promise.resolve();
    const rows = this.pending.splice(0, BATCH_ROWS);
    this.inFlightRows = rows.length;
    this.inFlight = (async () => {
      try {
        await this.insert(rows);
        this.written += rows.length;
        this.retryDelayMs = 0;
        this.connected(true);
      } catch (error) {
        if (isRefusedStatement(error)) {
          this.dropped += rows.length;
          this.options.onError?.(new Error(describeError(error, this.options.url)), rows.length);
        } else {
          // Away: the rows go back in front, in order, and wait for the next try.
          this.pending = rows.concat(this.pending);
          this.retryDelayMs = Math.min(Math.max(this.retryDelayMs * 2, 250), 5000);
          this.connected(false, error as Error);
        }
      } finally {
        this.inFlight = undefined;
        this.inFlightRows = 0;
      }
      if (this.pending.length > 0) this.schedule(this.retryDelayMs > 0 ? this.retryDelayMs : this.pending.length >= (this.options.flushSize ?? 256) ? 0 : (this.options.flushIntervalMs ?? 200));
    })();
    return this.inFlight;
  }

  private async insert(rows: (PredictionRecord & { seq?: number })[]): Promise<void> {
    const cols: unknown[][] = Array.from({ length: 14 }, () => new Array(rows.length));
    rows.forEach((r, i) => {
      recordColumns(r).forEach((value, c) => (cols[c]![i] = value));
      cols[11]![i] = r.shadow === true;
      cols[12]![i] = this.replica;
      cols[13]![i] = r.seq;
    });
    // A batch whose commit was lost with the connection is sent again: the rows it already wrote are skipped.
    await this.pool.query(
      `INSERT INTO vigil_predictions (request_id, idx, model, version, created_at, label, score, value, fallback_from, fallback_reason, input, shadow, replica, replica_seq)
       SELECT * FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::bigint[], $6::text[], $7::float8[], $8::float8[], $9::text[], $10::text[], $11::text[], $12::bool[], $13::text[], $14::bigint[])
       ON CONFLICT (replica, replica_seq) DO NOTHING`,
      cols,
    );
  }

  /** Sends everything queued, batch after batch; stops early (rows stay queued) if the database is away. */
  async flush(): Promise<void> {
    if (!this.schemaReady) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    for (let guard = 0; guard < 10_000; guard++) {
      if (this.inFlight) await this.inFlight;
      if (this.pending.length === 0) break;
      await this.writeBatch();
      if (!this.up) break;
    }
    if (this.pending.length > 0) this.schedule(this.retryDelayMs);
  }

  /** Runs a lookup once migrated; a database that is away is a 503 for the caller, not a 500. */
  private async query<R extends pg.QueryResultRow>(text: string, values: unknown[]): Promise<R[]> {
    await this.ready();
    try {
      const result = await this.pool.query<R>(text, values);
      this.connected(true);
      return result.rows;
    } catch (error) {
      if (isRefusedStatement(error)) throw error;
      this.connected(false, error as Error);
      throw new PredictionLogUnavailable((error as Error).message);
    }
  }

  private async ready(): Promise<void> {
    const migrated = this.start();
    if (this.up) return migrated;
    // Not migrated yet (or the database is away): give it a moment, then say so.
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new PredictionLogUnavailable('not connected yet')), 3000);
    });
    try {
      await Promise.race([migrated, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  async find(requestId: string): Promise<StoredPrediction[]> {
    // This replica's own queued rows first, so feedback right after a prediction joins.
    if (this.pending.length > 0 || this.inFlight) await this.flush();
    const rows = await this.query<PredictionRow>(`SELECT ${PREDICTION_COLUMNS} FROM vigil_predictions WHERE request_id = $1 ORDER BY idx, id`, [requestId]);
    return rows.map(storedPrediction);
  }

  async label(items: LabelItem[]): Promise<{ ok: true } | { ok: false; already: number }> {
    if (items.length === 0) return { ok: true };
    await this.ready();
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      this.connected(false, error as Error);
      throw new PredictionLogUnavailable((error as Error).message);
    }
    try {
      await client.query('BEGIN');
      const updated = await client.query<{ id: string }>(
        `UPDATE vigil_predictions AS p SET true_label = u.true_label, true_value = u.true_value, labelled_at = u.labelled_at
         FROM unnest($1::bigint[], $2::text[], $3::float8[], $4::bigint[]) AS u(id, true_label, true_value, labelled_at)
         WHERE p.id = u.id AND p.labelled_at IS NULL RETURNING p.id`,
        [items.map((i) => i.id), items.map((i) => i.trueLabel ?? null), items.map((i) => finiteOrNull(i.trueValue)), items.map((i) => Math.round(i.labelledAt))],
      );
      const done = new Set(updated.rows.map((r) => Number(r.id)));
      const missing = items.find((i) => !i.optional && !done.has(i.id));
      if (missing) {
        await client.query('ROLLBACK');
        return { ok: false, already: missing.id };
      }
      await client.query('COMMIT');
      return { ok: true };
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      if (isRefusedStatement(error)) throw error;
      this.connected(false, error as Error);
      throw new PredictionLogUnavailable((error as Error).message);
    } finally {
      client.release();
    }
  }

  async recentLabelled(model: string, version: string, limit: number): Promise<StoredPrediction[]> {
    const rows = await this.query<PredictionRow>(
      `SELECT ${PREDICTION_COLUMNS} FROM vigil_predictions WHERE model = $1 AND version = $2 AND labelled_at IS NOT NULL ORDER BY labelled_at DESC, id DESC LIMIT $3`,
      [model, version, limit],
    );
    return rows.reverse().map(storedPrediction);
  }

  async count(): Promise<number> {
    await this.flush();
    const [row] = await this.query<{ n: string }>('SELECT count(*) AS n FROM vigil_predictions', []);
    return Number(row?.n ?? 0);
  }

  /**
   * One retention pass, if no other replica is running one: rows older than maxAgeDays, then
   * the oldest past the newest maxRows, PRUNE_CHUNK rows per statement. Returns how many went.
   */
  async prune(): Promise<number> {
    await this.ready();
    const client = await this.pool.connect();
    let deleted = 0;
    try {
      const lock = await client.query<{ got: boolean }>('SELECT pg_try_advisory_lock($1) AS got', [PRUNE_LOCK]);
      if (!lock.rows[0]?.got) return 0;
      try {
        if (this.maxAgeDays > 0) {
          const cutoff = Math.round(this.now() - this.maxAgeDays * 86_400_000);
          for (let n = PRUNE_CHUNK; n === PRUNE_CHUNK && !this.closed; ) {
            n = (await client.query('DELETE FROM vigil_predictions WHERE id IN (SELECT id FROM vigil_predictions WHERE created_at < $1 ORDER BY created_at LIMIT $2)', [cutoff, PRUNE_CHUNK])).rowCount ?? 0;
            deleted += n;
          }
        }
        if (this.maxRows > 0) {
          const boundary = (await client.query<{ id: string }>('SELECT id FROM vigil_predictions ORDER BY id DESC LIMIT 1 OFFSET $1', [this.maxRows])).rows[0];
          if (boundary) {
            for (let n = PRUNE_CHUNK; n === PRUNE_CHUNK && !this.closed; ) {
              n = (await client.query('DELETE FROM vigil_predictions WHERE id IN (SELECT id FROM vigil_predictions WHERE id <= $1 ORDER BY id LIMIT $2)', [boundary.id, PRUNE_CHUNK])).rowCount ?? 0;
              deleted += n;
            }
          }
        }
      } finally {
        await client.query('SELECT pg_advisory_unlock($1)', [PRUNE_LOCK]).catch(() => undefined);
      }
      return deleted;
    } finally {
      client.release();
    }
  }

  /** Sends what is queued (if the database is there), then closes the pool. */
  async close(): Promise<void> {
    if (this.closed) return;
    clearInterval(this.pruneTimer);
    if (this.up) await this.flush().catch(() => undefined);
    this.closed = true;
    clearTimeout(this.timer);
    if (this.inFlight) await this.inFlight.catch(() => undefined);
    if (this.pending.length > 0) {
      // Rows that never reached the database are lost: counted, so the total stays exact.
      this.dropped += this.pending.length;
      this.options.onDrop?.(this.pending.length);
      this.pending = [];
    }
    await this.pool.end().catch(() => undefined);
  }
}
