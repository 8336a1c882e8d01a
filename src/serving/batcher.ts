import { DeadlineExceeded, Overloaded } from '../errors.js';

export interface BatcherOptions {
  /** Most inputs one engine call takes. */
  maxBatchSize: number;
  /** How long the oldest queued input may wait for company before its batch runs anyway. */
  maxDelayMs: number;
  /** Inputs allowed to wait; past it, submit() refuses at once (admission control). */
  maxQueue: number;
  /** Engine calls allowed at once (one per engine session). */
  maxConcurrentBatches: number;
  /**
   * Fill a batch with the queued inputs whose cost (token length) is closest to the oldest
   * input's, instead of strictly oldest-first. Needs a `cost` function. The oldest input always
   * rides in the next batch, so nothing starves. Off by default: see docs/performance.md.
   */
  bucketing?: boolean;
  /**
   * Dispatch in rounds: when no batch is running, every queued input is dispatched at once, as
   * consecutive batches of at most `maxBatchSize` (`maxConcurrentBatches` then does not apply).
   * For an engine on the server thread: onnxruntime-node defers each `run()` to the event
   * loop's check phase (setImmediate), so batches dispatched one after another ran one per turn
   * of the loop, each behind a whole poll phase of reading sockets; dispatched together they
   * run back to back in the same check phase. Under a flood of requests that are refused (1,000
   * connections, most of them answered 503) one batch per turn served 230-480 requests/s.
   */
  rounds?: boolean;
}

export type ShedReason = 'queue_full' | 'deadline';

export interface BatchObserver {
  /** Seconds an input waited in the queue before its batch started. */
  queueWait?(seconds: number): void;
  /** A batch ran (or failed): its size and how long the engine call took. */
  batch?(size: number, seconds: number): void;
  /**
   * A request (one submit/submitAll call, whatever its number of inputs) was refused at
   * admission (`queue_full`) or dropped unrun because its deadline passed in the queue (`deadline`).
   */
  shed?(reason: ShedReason): void;
  /** The queue length or the number of running batches changed. */
  occupancy?(queued: number, running: number): void;
}

/**
 * Where the batcher writes when a request's inputs ran: the start of the first engine call
 * holding one of them and the end of the last (a CallTimeline, src/serving/timeline.ts).
 * The same clock reads time the batch itself, so nothing is read twice.
 */
export interface BatchMarks {
  batchStart: number | undefined;
  batchEnd: number | undefined;
}

/** One submit/submitAll call: its inputs share a deadline and are admitted or shed together. */
interface Request {
  marks: BatchMarks | undefined;
  enqueuedAt: number;
  /** now() after which the caller no longer wants the answer; Infinity without a deadline. */
  deadline: number;
  /** Inputs not yet started; when it reaches 0 the deadline no longer applies. */
  unstarted: number;
  settled: boolean;
  timer: ReturnType<typeof setTimeout> | undefined;
  fail(error: unknown): void;
}

interface Waiting<In, Out> {
  item: In;
  cost: number;
  request: Request;
  resolve(value: Out): void;
}

export const DEFAULT_BATCHING: BatcherOptions = { maxBatchSize: 8, maxDelayMs: 0, maxQueue: 1024, maxConcurrentBatches: 1, bucketing: true };

/** Retry-After is an estimate of how long the queue takes to drain, within these bounds. */
const MIN_RETRY_AFTER_S = 1;
const MAX_RETRY_AFTER_S = 30;

export interface BatcherHooks<In> {
  /** Injected clock in milliseconds (tests); performance.now() by default. */
  now?: () => number;
  /** Cost of one input for bucketing (the token count for text); 1 when absent. */
  cost?: (item: In) => number;
  /** Timers (tests may pass fakes); the global setTimeout/clearTimeout by default. */
  setTimer?: (fn: () => void, ms: number) => ReturnType<typeof setTimeout>;
  clearTimer?: (timer: ReturnType<typeof setTimeout>) => void;
}

/**
 * Collects concurrent inputs into batches for one model version: a batch runs when an engine
 * slot is free and either `maxBatchSize` inputs wait or the oldest has waited `maxDelayMs`.
 *
 * - Admission: a request whose inputs do not all fit in `maxQueue` is refused at once with
 *   Overloaded (503 + Retry-After); none of its inputs is queued.
 * - Deadlines: a request whose deadline passes while any of its inputs is still queued is
 *   rejected with DeadlineExceeded (504) at that moment, and its queued inputs never run.
 *   Once every input of it has started, the deadline no longer applies (running is not cancelled).
 * - Each caller gets its own results, in its own order; a batch that fails or returns the wrong
 *   number of results rejects only the requests that had inputs in it.
 */
export class Batcher<In, Out> {
  private readonly queue: Waiting<In, Out>[] = [];
  private running = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private idleWaiters: (() => void)[] = [];
  /** Moving average of seconds per batch, for Retry-After. */
  private batchSeconds: number | undefined;
  private readonly now: () => number;
  private readonly cost: ((item: In) => number) | undefined;
  private readonly setTimer: (fn: () => void, ms: number) => ReturnType<typeof setTimeout>;
  private readonly clearTimer: (timer: ReturnType<typeof setTimeout>) => void;

  constructor(
    private readonly runBatch: (items: In[]) => Promise<Out[]>,
    readonly options: BatcherOptions = DEFAULT_BATCHING,
    private readonly observer: BatchObserver = {},
    hooks: BatcherHooks<In> | (() => number) = {},
  ) {
    const h: BatcherHooks<In> = typeof hooks === 'function' ? { now: hooks } : hooks;
    this.now = h.now ?? (() => performance.now());
    this.cost = h.cost;
    this.setTimer = h.setTimer ?? ((fn, ms) => setTimeout(fn, ms));
    this.clearTimer = h.clearTimer ?? ((t) => clearTimeout(t));
    if (!(options.maxBatchSize >= 1)) throw new RangeError('maxBatchSize must be at least 1');
    if (!(options.maxConcurrentBatches >= 1)) throw new RangeError('maxConcurrentBatches must be at least 1');
    if (!(options.maxQueue >= 0)) throw new RangeError('maxQueue must not be negative');
    if (!(options.maxDelayMs >= 0)) throw new RangeError('maxDelayMs must not be negative');
  }

  /** Inputs waiting for a batch. */
  get queued(): number {
    return this.queue.length;
  }

  /** Engine calls running now. */
  get inFlight(): number {
    return this.running;
  }

  /** Queues one input; see submitAll. */
  submit(item: In, timeoutMs?: number): Promise<Out> {
    return this.submitAll([item], timeoutMs).then((results) => results[0]!);
  }

  /**
   * Queues every input of one request, or none: rejects at once with Overloaded when they do
   * not all fit, and with DeadlineExceeded if `timeoutMs` passes while any of them is still
   * queued (those are then never run). Resolves with one result per input, in input order.
   */
  submitAll(items: readonly In[], timeoutMs?: number, marks?: BatchMarks): Promise<Out[]> {
    if (items.length === 0) return Promise.resolve([]);
    if (this.queue.length + items.length > this.options.maxQueue) {
      this.observer.shed?.('queue_full');
      const retryAfter = this.retryAfterSeconds();
      const message =
        items.length > this.options.maxQueue
          ? `the request has ${items.length} inputs but the queue holds at most ${this.options.maxQueue}; send fewer per request`
          : `the queue is full (${this.queue.length} of ${this.options.maxQueue} waiting); retry after ${retryAfter} s`;
      return Promise.reject(new Overloaded(message, retryAfter));
    }
    return new Promise<Out[]>((resolve, reject) => {
      const enqueuedAt = this.now();
      const results = new Array<Out>(items.length);
      let remaining = items.length;
      const request: Request = {
        marks,
        enqueuedAt,
        deadline: timeoutMs === undefined ? Infinity : enqueuedAt + Math.max(0, timeoutMs),
        unstarted: items.length,
        settled: false,
        timer: undefined,
        fail: (error) => {
          if (request.settled) return;
          request.settled = true;
          if (request.timer !== undefined) this.clearTimer(request.timer);
          reject(error);
        },
      };
      items.forEach((item, i) => {
        this.queue.push({
          item,
          cost: this.cost ? this.cost(item) : 1,
          request,
          resolve: (value) => {
            results[i] = value;
            if (--remaining === 0 && !request.settled) {
              request.settled = true;
              resolve(results);
            }
          },
        });
      });
      if (timeoutMs !== undefined) {
        request.timer = this.setTimer(() => {
          request.timer = undefined;
          this.expire(request);
        }, Math.max(0, timeoutMs));
      }
      this.schedule();
    });
  }

  /** Resolves once nothing is queued or running (for graceful shutdown). */
  idle(): Promise<void> {
    if (this.queue.length === 0 && this.running === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Seconds until the queue has probably drained, for Retry-After. */
  retryAfterSeconds(): number {
    if (this.batchSeconds === undefined) return MIN_RETRY_AFTER_S;
    const batches = Math.ceil(this.queue.length / this.options.maxBatchSize) / this.options.maxConcurrentBatches;
    const seconds = Math.ceil(batches * this.batchSeconds);
    return Math.min(MAX_RETRY_AFTER_S, Math.max(MIN_RETRY_AFTER_S, seconds));
  }

  /** The deadline of a request passed: drop its queued inputs and answer 504. */
  private expire(request: Request): void {
    if (this.drop(request)) this.schedule();
  }

  /** Rejects a request past its deadline with 504, unrun; false if it had started or settled. */
  private drop(request: Request): boolean {
    if (request.settled || request.unstarted === 0) return false;
    this.observer.shed?.('deadline');
    const waited = Math.round(this.now() - request.enqueuedAt);
    this.abandon(request, new DeadlineExceeded(`the request waited ${waited} ms in the queue, past its deadline; it was not run`));
    return true;
  }

  /**
   * Drops the queued requests whose deadline has passed, before the next batch is taken. Their
   * timers would do it, but a batch that ends in the check phase starts the next one before the
   * timers phase comes round: in rounds, a request that waited behind a busy engine past its
   * deadline would otherwise run.
   */
  private expireDue(): void {
    if (this.queue.length === 0) return;
    const now = this.now();
    let due: Set<Request> | undefined;
    for (const w of this.queue) if (w.request.deadline <= now && !w.request.settled) (due ??= new Set()).add(w.request);
    // abandon() clears each one's timer; schedule() follows in the caller.
    for (const request of due ?? []) this.drop(request);
  }

  /** Rejects a request and takes its inputs that have not started off the queue. */
  private abandon(request: Request, error: unknown): void {
    if (request.unstarted > 0) {
      let kept = 0;
      for (let i = 0; i < this.queue.length; i++) {
        const w = this.queue[i]!;
        if (w.request !== request) this.queue[kept++] = w;
      }
      this.queue.length = kept;
      request.unstarted = 0;
    }
    request.fail(error);
  }

  private schedule(): void {
    this.drainQueue();
    this.observer.occupancy?.(this.queue.length, this.running);
    if (this.queue.length === 0 && this.running === 0) this.notifyIdle();
  }

  private drainQueue(): void {
    // In rounds, a round begins only once the last one has finished, and then takes everything.
    const slots = this.options.rounds ? (this.running === 0 ? Infinity : 0) : this.options.maxConcurrentBatches - this.running;
    let started = 0;
    while (this.queue.length > 0 && started < slots) {
      const oldest = this.queue[0]!;
      const waited = this.now() - oldest.request.enqueuedAt;
      const full = this.queue.length >= this.options.maxBatchSize;
      // An engine slot is free. Run now if a batch is full or the oldest input has waited
      // its delay; otherwise come back when it will have.
      // A request whose deadline would pass during the wait runs now instead (it would rather
      // ride in a small batch than be dropped).
      // (A round waits only for its first batch: the rest go with it.)
      if (!(this.options.rounds && started > 0) && !full && waited < this.options.maxDelayMs && !this.deadlineWithin(this.options.maxDelayMs - waited)) {
        if (this.timer === undefined) {
          this.timer = this.setTimer(() => {
            this.timer = undefined;
            this.schedule();
          }, this.options.maxDelayMs - waited);
        }
        return;
      }
      this.dispatch();
      started++;
    }
  }

  /** Whether a queued request's deadline passes within `ms` (only called while the queue is short). */
  private deadlineWithin(ms: number): boolean {
    const limit = this.now() + ms;
    return this.queue.some((w) => w.request.deadline <= limit);
  }

  /** Takes the next batch off the queue: oldest first, or oldest plus its nearest in cost. */
  private take(): Waiting<In, Out>[] {
    const size = this.options.maxBatchSize;
    if (!this.options.bucketing || !this.cost || this.queue.length <= size) return this.queue.splice(0, size);
    const target = this.queue[0]!.cost;
    // Stable: among equal distances the older input wins.
    const order = this.queue.map((w, index) => ({ index, distance: Math.abs(w.cost - target) }));
    order.sort((a, b) => a.distance - b.distance || a.index - b.index);
    const chosen = new Set(order.slice(0, size).map((o) => o.index));
    const taken: Waiting<In, Out>[] = [];
    let kept = 0;
    for (let i = 0; i < this.queue.length; i++) {
      const w = this.queue[i]!;
      if (chosen.has(i)) taken.push(w);
      else this.queue[kept++] = w;
    }
    this.queue.length = kept;
    return taken;
  }

  private dispatch(): void {
    if (this.timer !== undefined) {
      this.clearTimer(this.timer);
      this.timer = undefined;
    }
    const started = this.now();
    const batch = this.take();
    for (const w of batch) {
      this.observer.queueWait?.((started - w.request.enqueuedAt) / 1000);
      if (w.request.marks && w.request.marks.batchStart === undefined) w.request.marks.batchStart = started;
      if (--w.request.unstarted === 0 && w.request.timer !== undefined) {
        // Everything of this request is running: its deadline no longer applies.
        this.clearTimer(w.request.timer);
        w.request.timer = undefined;
      }
    }
    this.running++;
    let call: Promise<Out[]>;
    try {
      call = Promise.resolve(this.runBatch(batch.map((w) => w.item)));
    } catch (error) {
      call = Promise.reject(error);
    }
    call
      .then(
        (results) => {
          this.recordBatch(batch, started);
          if (!Array.isArray(results) || results.length !== batch.length) {
            const error = new Error(`the model returned ${Array.isArray(results) ? results.length : 'no'} results for a batch of ${batch.length}`);
            batch.forEach((w) => this.abandon(w.request, error));
          } else {
            batch.forEach((w, i) => w.resolve(results[i]!));
          }
        },
        (error: unknown) => {
          this.recordBatch(batch, started);
          batch.forEach((w) => this.abandon(w.request, error));
        },
      )
      .finally(() => {
        this.running--;
        this.expireDue();
        this.schedule();
      });
  }

  private recordBatch(batch: readonly Waiting<In, Out>[], started: number): void {
    const ended = this.now();
    // Not after the request failed: its caller may have handed the same timeline to a fallback.
    for (const w of batch) if (w.request.marks && !w.request.settled) w.request.marks.batchEnd = ended;
    const seconds = Math.max(0, (ended - started) / 1000);
    this.batchSeconds = this.batchSeconds === undefined ? seconds : 0.8 * this.batchSeconds + 0.2 * seconds;
    this.observer.batch?.(batch.length, seconds);
  }

  private notifyIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    waiters.forEach((resolve) => resolve());
  }
}
