/**
 * Rows waiting to be written, and when to write them: the request path only queues, and a
 * timer hands the rows to the writer within `flushIntervalMs`, or on the next turn of the
 * event loop once `flushSize` wait (soon, but not inside the request that crossed the
 * threshold). Past `maxPending` the oldest tenth is dropped at once (cheap, and rare: the
 * writer has not taken rows for a while), so memory stays bounded.
 *
 * The in-thread SQLite log (prediction-log.ts) and the threaded one (threaded-sqlite-store.ts)
 * share it; they differ in what "write" means (a transaction here, a message to the writer
 * thread there).
 */
export interface RowBufferOptions {
  flushSize: number;
  flushIntervalMs: number;
  maxPending: number;
  /** The timer fired: take rows with take(). */
  due: () => void;
  /** Rows dropped because too many waited. */
  dropped: (rows: number) => void;
  /** Rows already taken but not yet written (on their way to a thread), counted against maxPending. */
  inTransit?: () => number;
}

export class RowBuffer<T> {
  private rows: T[] = [];
  private timer: NodeJS.Timeout | undefined;
  /** The timer is set for the next turn of the event loop (it is never set twice). */
  private soon = false;

  constructor(private readonly options: RowBufferOptions) {}

  get length(): number {
    return this.rows.length;
  }

  add(records: readonly T[]): void {
    for (const r of records) this.rows.push(r);
    const waiting = this.rows.length + (this.options.inTransit?.() ?? 0);
    const { maxPending } = this.options;
    if (waiting > maxPending) {
      const excess = Math.min(this.rows.length, waiting - maxPending + Math.floor(maxPending / 10));
      this.rows.splice(0, excess);
      this.options.dropped(excess);
    }
    if (this.rows.length >= this.options.flushSize) this.dueSoon();
    else if (!this.timer) this.schedule(this.options.flushIntervalMs);
  }

  /** Takes the oldest rows, at most `max` (all by default), and stops the timer. */
  take(max = Infinity): T[] {
    this.stop();
    if (max >= this.rows.length) {
      const all = this.rows;
      this.rows = [];
      return all;
    }
    return this.rows.splice(0, max);
  }

  /** Calls `due` again on the next turn of the event loop (a chunked write's next chunk). */
  dueSoon(): void {
    if (this.soon) return;
    clearTimeout(this.timer);
    this.soon = true;
    this.schedule(0);
  }

  /** Stops the timer; the next add starts it again. */
  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.soon = false;
  }

  /** Forgets every waiting row; returns how many there were. */
  clear(): number {
    this.stop();
    const count = this.rows.length;
    this.rows = [];
    return count;
  }

  private schedule(ms: number): void {
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.soon = false;
      this.options.due();
    }, ms);
    this.timer.unref();
  }
}
