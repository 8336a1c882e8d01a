import { DeadlineExceeded, Overloaded } from '../errors.js';

export interface BatcherOptions {
  /** Most inputs one engine call takes. */
  maxBatchSize: number;
  /** How long the oldest queued input may wait for company before its batch runs anyway. */
  maxDelayMs: number;
  /** Inputs allowed to wait; past it, submit() refuses at once (admission control). */
  maxQueue: number;
  /** Engine calls allowed at once; 1 when one call already uses every core. */
  maxConcurrentBatches: number;
}

export interface BatchObserver {
  /** Seconds an input waited in the queue before its batch started. */
  queueWait?(seconds: number): void;
  /** A batch ran: its size and how long the engine call took. */
  batch?(size: number, seconds: number): void;
  /** An input was refused or dropped: `queue_full` at submit, `deadline` in the queue. */
  shed?(reason: 'queue_full' | 'deadline'): void;
  /** The queue length or the number of running batches changed. */
  occupancy?(queued: number, running: number): void;
}

interface Waiting<In, Out> {
  item: In;
  enqueuedAt: number;
  /** performance.now() after which the caller no longer wants the answer. */
  deadline: number;
  resolve(value: Out): void;
  reject(error: unknown): void;
}

export const DEFAULT_BATCHING: BatcherOptions = { maxBatchSize: 32, maxDelayMs: 2, maxQueue: 1024, maxConcurrentBatches: 1 };

/**
 * Collects concurrent inputs into batches for one model version: a batch runs when it is
 * full, when its oldest input has waited `maxDelayMs`, or as soon as an engine slot frees up
 * with inputs waiting (they have waited long enough already). Each caller gets its own result.
 */
export class Batcher<In, Out> {
  private readonly queue: Waiting<In, Out>[] = [];
  private running = 0;
  private timer: NodeJS.Timeout | undefined;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly runBatch: (items: In[]) => Promise<Out[]>,
    readonly options: BatcherOptions = DEFAULT_BATCHING,
    private readonly observer: BatchObserver = {},
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Inputs waiting for a batch. */
  get queued(): number {
    return this.queue.length;
  }

  /** Engine calls running now. */
  get inFlight(): number {
    return this.running;
  }

  /**
   * Queues one input. Rejects at once with Overloaded when the queue is full, and with
   * DeadlineExceeded if `timeoutMs` passes before its batch starts (it is then never run).
   */
  submit(item: In, timeoutMs?: number): Promise<Out> {
    if (this.queue.length >= this.options.maxQueue) {
      this.observer.shed?.('queue_full');
      return Promise.reject(new Overloaded(`the queue is full (${this.options.maxQueue} waiting); retry shortly`, 1));
    }
    return new Promise<Out>((resolve, reject) => {
      const enqueuedAt = this.now();
      this.queue.push({ item, enqueuedAt, deadline: timeoutMs === undefined ? Infinity : enqueuedAt + timeoutMs, resolve, reject });
      this.schedule();
    });
  }

  /** Resolves once nothing is queued or running (for graceful shutdown). */
  idle(): Promise<void> {
    if (this.queue.length === 0 && this.running === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private schedule(): void {
    this.drainQueue();
    this.observer.occupancy?.(this.queue.length, this.running);
  }

  private drainQueue(): void {
    while (this.queue.length > 0 && this.running < this.options.maxConcurrentBatches) {
      const waited = this.now() - this.queue[0]!.enqueuedAt;
      const full = this.queue.length >= this.options.maxBatchSize;
      // An engine slot is free. Run now if the batch is full or the oldest input has waited
      // its delay; otherwise come back when it will have.
      if (!full && waited < this.options.maxDelayMs) {
        if (!this.timer) {
          this.timer = setTimeout(() => {
            this.timer = undefined;
            this.schedule();
          }, this.options.maxDelayMs - waited);
        }
        return;
      }
      this.dispatch();
    }
    if (this.queue.length === 0 && this.running === 0) this.notifyIdle();
  }

  private dispatch(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const started = this.now();
    const taken = this.queue.splice(0, this.options.maxBatchSize);
    const live = taken.filter((w) => {
      if (started <= w.deadline) return true;
      this.observer.shed?.('deadline');
      w.reject(new DeadlineExceeded(`the request waited ${Math.round(started - w.enqueuedAt)} ms in the queue, past its deadline`));
      return false;
    });
    if (live.length === 0) return;
    for (const w of live) this.observer.queueWait?.((started - w.enqueuedAt) / 1000);
    this.running++;
    this.runBatch(live.map((w) => w.item)).then(
      (results) => {
        this.observer.batch?.(live.length, (this.now() - started) / 1000);
        if (results.length !== live.length) {
          const error = new Error(`the model returned ${results.length} results for a batch of ${live.length}`);
          live.forEach((w) => w.reject(error));
        } else {
          live.forEach((w, i) => w.resolve(results[i]!));
        }
      },
      (error: unknown) => live.forEach((w) => w.reject(error)),
    ).finally(() => {
      this.running--;
      this.schedule();
    });
  }

  private notifyIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    waiters.forEach((resolve) => resolve());
  }
}
