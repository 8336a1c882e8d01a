import type { Logger } from './logger.js';

/**
 * Refusals are written as at most one log line per interval that sums them up (how many, why,
 * for which model), never one line (let alone a stack trace) per refused request: under
 * overload the log would otherwise grow with the very traffic being refused (138 MB in 20 s
 * was measured before). vigil_requests_shed_total counts every one of them.
 */
export class ShedLog {
  private counts = new Map<string, number>();
  private total = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly logger: Logger,
    private readonly intervalMs = 1000,
  ) {}

  /** One refused request; `model` only when it names a served model (bounded keys). */
  record(reason: string, model?: string): void {
    const key = model === undefined ? reason : `${reason}:${model}`;
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
    this.total++;
    if (this.timer === undefined) {
      this.timer = setTimeout(() => this.flush(), this.intervalMs);
      this.timer.unref();
    }
  }

  /** Writes the summary of what was refused since the last line, if anything was. */
  flush(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.total === 0) return;
    const by: Record<string, number> = {};
    for (const [key, count] of this.counts) by[key] = count;
    this.logger.warn({ shed: this.total, by_reason: by, interval_ms: this.intervalMs }, 'requests refused (overload or shutdown); vigil_requests_shed_total counts each');
    this.counts = new Map();
    this.total = 0;
  }
}
