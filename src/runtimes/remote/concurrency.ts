/**
 * Caps how many upstream calls run at once. Callers past the cap wait in a bounded FIFO queue;
 * past the queue they are refused at once (the caller turns that into 503 + Retry-After), so a
 * slow upstream cannot make this server pile up unbounded work and memory.
 */
export class ConcurrencyLimiter {
  private running = 0;
  private readonly waiting: { grant: () => void; cancel: (reason: unknown) => void }[] = [];

  constructor(
    readonly maxInFlight: number,
    readonly maxQueue: number,
    private readonly onChange: (inFlight: number, queued: number) => void = () => undefined,
  ) {}

  get inFlight(): number {
    return this.running;
  }

  get queued(): number {
    return this.waiting.length;
  }

  /**
   * Resolves with a release function once a slot is free. Returns undefined, without waiting,
   * when the queue is full. Rejects with the signal's reason if the caller gives up while queued.
   */
  acquire(signal?: AbortSignal): Promise<() => void> | undefined {
    if (this.running < this.maxInFlight) {
      this.running++;
      this.changed();
      return Promise.resolve(this.releaser());
    }
    if (this.waiting.length >= this.maxQueue) return undefined;
    return new Promise<() => void>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const entry = {
        grant: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve(this.releaser());
        },
        cancel: reject,
      };
      const onAbort = () => {
        const index = this.waiting.indexOf(entry);
        if (index >= 0) this.waiting.splice(index, 1);
        this.changed();
        reject(signal!.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(entry);
      this.changed();
    });
  }

  /** A release function that works once, so a double release cannot free someone else's slot. */
  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next) {
        // The slot passes straight to the next waiter: `running` stays the same.
        this.changed();
        next.grant();
      } else {
        this.running--;
        this.changed();
      }
    };
  }

  private changed(): void {
    this.onChange(this.running, this.waiting.length);
  }
}
