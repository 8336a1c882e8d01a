import { RequestIdIndex } from './request-id-index.js';
import { DEFAULT_MAX_AGE_DAYS, DEFAULT_MEMORY_MAX_ROWS, MEMORY, type LabelItem, type PredictionRecord, type PredictionStore, type StoredPrediction } from './prediction-store.js';

export interface MemoryStoreOptions {
  maxRows?: number;
  maxAgeDays?: number;
  /** How often rows past maxAgeDays are looked for (the row bound is kept at every append). */
  pruneIntervalMs?: number;
  now?: () => number;
}

/**
 * The default prediction log (`--prediction-log` unset or ':memory:'): rows in this process's
 * heap, lost at exit like SQLite's in-memory database, which this replaces. It answers what
 * the SQLite log answers (test/unit/memory-prediction-store.test.ts runs both on the same
 * operations), but an append is a few object writes on the server thread instead of a message
 * to a writer thread that parses and inserts it: with SQLite the default log cost ~15 µs of CPU
 * per prediction on that thread, a tenth of a small model's whole request, and a third thread
 * competing for two cores (docs/performance.md).
 *
 * Bounded: the oldest rows past `maxRows` go as new ones arrive, and rows past `maxAgeDays`
 * go on a timer. Nothing is pending, ever: a row is stored (and findable) when append returns.
 */
export class MemoryPredictionStore implements PredictionStore {
  readonly kind = 'memory';
  readonly shared = false;
  readonly inMemory = true;
  readonly location = MEMORY;
  readonly maxRows: number;
  readonly maxAgeDays: number;
  readonly dropped = 0;
  readonly pendingRows = 0;
  /**
   * Every row by id, oldest first: ids are given in order, so row `id` sits at slot
   * `id - firstId`, and a removed row leaves `undefined` until the slots before `head` are cut
   * off. (A Map, which also keeps insertion order, made removing its oldest entry cost O(rows
   * removed so far): its iterator walks the holes deletions leave, 60 µs per append when full.)
   */
  private slots: (Row | undefined)[] = [];
  /** The id of slots[0]. */
  private firstId = 1;
  /** Slots before this index are all empty. */
  private head = 0;
  private size = 0;
  /** Row ids by request id (a batch has several rows; a client may reuse a request id). */
  private readonly byRequest = new RequestIdIndex((id) => this.row(id)?.requestId);
  /** Labelled row ids by model version, in labelling order; ids of rows since removed are skipped. */
  private readonly labelled = new Map<string, number[]>();
  private nextId = 1;
  private readonly now: () => number;
  private readonly pruneTimer: NodeJS.Timeout | undefined;

  constructor(options: MemoryStoreOptions = {}) {
    this.maxRows = options.maxRows ?? DEFAULT_MEMORY_MAX_ROWS;
    this.maxAgeDays = options.maxAgeDays ?? DEFAULT_MAX_AGE_DAYS;
    this.now = options.now ?? Date.now;
    const every = options.pruneIntervalMs ?? 60_000;
    if (every > 0 && this.maxAgeDays > 0) {
      this.pruneTimer = setInterval(() => this.removeOlder(false), every);
      this.pruneTimer.unref();
    }
  }

  /** Rows stored so far: every id given out (ids start at 1). */
  get written(): number {
    return this.nextId - 1;
  }

  async start(): Promise<void> {}

  append(records: PredictionRecord[]): void {
    for (const record of records) {
      const id = this.nextId++;
      // At the bound the oldest row goes first and its object carries the new one: no new object
      // for the young generation to promote at every prediction.
      const row = this.maxRows > 0 && this.size >= this.maxRows ? this.removeOldest().fill(id, record) : new Row(id, record);
      this.slots.push(row);
      this.size++;
      this.byRequest.add(record.requestId, id);
    }
    this.cutEmptyHead();
  }

  async flush(): Promise<void> {}

  async find(requestId: string): Promise<StoredPrediction[]> {
    const found = this.byRequest.find(requestId).map((id) => this.row(id)!);
    return found.sort((a, b) => a.index - b.index || a.id - b.id).map(copy);
  }

  async label(items: LabelItem[]): Promise<{ ok: true } | { ok: false; already: number }> {
    // All or none: every check first (an id twice in one call counts as labelled by its first).
    const taken = new Set<number>();
    const apply: LabelItem[] = [];
    for (const item of items) {
      const row = this.row(item.id);
      const free = row !== undefined && row.labelledAt === undefined && !taken.has(item.id);
      if (free) {
        taken.add(item.id);
        apply.push(item);
      } else if (!item.optional) return { ok: false, already: item.id };
    }
    for (const item of apply) {
      const row = this.row(item.id)!;
      if (item.trueLabel !== undefined) row.trueLabel = item.trueLabel;
      if (Number.isFinite(item.trueValue)) row.trueValue = item.trueValue;
      row.labelledAt = Math.round(item.labelledAt);
      const key = versionKey(row.model, row.version);
      const ids = this.labelled.get(key);
      if (ids) ids.push(row.id);
      else this.labelled.set(key, [row.id]);
    }
    return { ok: true };
  }

  async recentLabelled(model: string, version: string, limit: number): Promise<StoredPrediction[]> {
    const key = versionKey(model, version);
    const ids = this.labelled.get(key);
    if (!ids) return [];
    // Drop the ids of removed rows here, where they are read, rather than at every removal.
    const live = ids.filter((id) => this.row(id) !== undefined);
    if (live.length === 0) this.labelled.delete(key);
    else this.labelled.set(key, live);
    const rows = live.map((id) => this.row(id)!);
    // SQLite's order: labelled_at, then id (labels carry the caller's clock, not always rising).
    rows.sort((a, b) => a.labelledAt! - b.labelledAt! || a.id - b.id);
    return rows.slice(Math.max(0, rows.length - limit)).map(copy);
  }

  async count(): Promise<number> {
    return this.size;
  }

  async prune(): Promise<number> {
    const before = this.size;
    this.removeOlder(true);
    this.keepRowBound();
    return before - this.size;
  }

  async close(): Promise<void> {
    clearInterval(this.pruneTimer);
  }

  /** The row of an id, if it is still kept (ids before firstId were cut off). */
  private row(id: number): Row | undefined {
    return id < this.firstId ? undefined : this.slots[id - this.firstId];
  }

  /**
   * Rows created before maxAgeDays ago. Rows arrive in time order, give or take a request's
   * run time, so the timer's pass stops at the first row young enough (a row a few ms out of
   * order goes at the next pass) instead of walking every row; prune() walks them all.
   */
  private removeOlder(everyRow: boolean): void {
    if (this.maxAgeDays <= 0) return;
    const cutoff = this.now() - this.maxAgeDays * 86_400_000;
    for (let i = this.head; i < this.slots.length; i++) {
      const row = this.slots[i];
      if (row === undefined) continue;
      if (row.createdAt < cutoff) this.remove(row);
      else if (!everyRow) break;
    }
    this.cutEmptyHead();
  }

  private keepRowBound(): void {
    if (this.maxRows <= 0) return;
    while (this.size > this.maxRows) this.removeOldest();
    this.cutEmptyHead();
  }

  /** Removes the oldest row and returns it. */
  private removeOldest(): Row {
    while (this.slots[this.head] === undefined) this.head++;
    const row = this.slots[this.head]!;
    this.remove(row);
    return row;
  }

  /** Moves head past empty slots, and drops them once they are half the array (amortised O(1)). */
  private cutEmptyHead(): void {
    while (this.head < this.slots.length && this.slots[this.head] === undefined) this.head++;
    if (this.head > 1024 && this.head * 2 > this.slots.length) {
      this.slots = this.slots.slice(this.head);
      this.firstId += this.head;
      this.head = 0;
    }
  }

  private remove(row: Row): void {
    this.byRequest.delete(row.requestId, row.id);
    this.slots[row.id - this.firstId] = undefined;
    this.size--;
  }
}

const versionKey = (model: string, version: string) => `${model}\u0000${version}`;

/**
 * A row as kept: every field declared, so every row has one hidden class (adding the optional
 * fields one by one made each row walk V8's shape transitions), and a row can be filled again
 * for the next prediction. Absent values are undefined here and missing from what callers get.
 */
class Row {
  id = 0;
  requestId = '';
  index = 0;
  model = '';
  version = '';
  createdAt = 0;
  label: string | undefined = undefined;
  score: number | undefined = undefined;
  value: number | undefined = undefined;
  fallbackFrom: string | undefined = undefined;
  fallbackReason: string | undefined = undefined;
  input: string | undefined = undefined;
  shadow = false;
  trueLabel: string | undefined = undefined;
  trueValue: number | undefined = undefined;
  labelledAt: number | undefined = undefined;

  constructor(id: number, record: PredictionRecord) {
    this.fill(id, record);
  }

  /** Every field from the record, copied one by one (the caller's object is not kept); labels cleared. */
  fill(id: number, record: PredictionRecord): this {
    this.id = id;
    this.requestId = record.requestId;
    this.index = record.index;
    this.model = record.model;
    this.version = record.version;
    this.createdAt = Math.round(record.createdAt);
    this.label = record.label;
    // What SQLite keeps of a REAL column: a finite number or nothing.
    this.score = Number.isFinite(record.score) ? record.score : undefined;
    this.value = Number.isFinite(record.value) ? record.value : undefined;
    this.fallbackFrom = record.fallbackFrom;
    this.fallbackReason = record.fallbackReason;
    this.input = record.input;
    this.shadow = record.shadow === true;
    this.trueLabel = undefined;
    this.trueValue = undefined;
    this.labelledAt = undefined;
    return this;
  }
}

/** A caller gets its own plain copy, absent fields left out: the monitor may keep what it reads. */
function copy(row: Row): StoredPrediction {
  const out: StoredPrediction = { id: row.id, requestId: row.requestId, index: row.index, model: row.model, version: row.version, createdAt: row.createdAt };
  if (row.label !== undefined) out.label = row.label;
  if (row.score !== undefined) out.score = row.score;
  if (row.value !== undefined) out.value = row.value;
  if (row.fallbackFrom !== undefined) out.fallbackFrom = row.fallbackFrom;
  if (row.fallbackReason !== undefined) out.fallbackReason = row.fallbackReason;
  if (row.input !== undefined) out.input = row.input;
  if (row.trueLabel !== undefined) out.trueLabel = row.trueLabel;
  if (row.trueValue !== undefined) out.trueValue = row.trueValue;
  if (row.labelledAt !== undefined) out.labelledAt = row.labelledAt;
  if (row.shadow) out.shadow = true;
  return out;
}
