/**
 * The moments of one inference call on one model version, in performance.now() milliseconds,
 * each read once from the clock where it happens: received (the version took the inputs),
 * encoded (pre-processing done, inputs handed to the batcher or the remote call), batch start
 * and end (the first engine call holding one of its inputs began, the last one ended; for a
 * remote model, the upstream call), decoded (answers ready). The stage metrics, the trace's
 * queue and infer spans, the local latency histogram and the prediction log's timestamp are all
 * read from it, in place of a stopwatch each.
 */
export class CallTimeline {
  received: number;
  encoded: number | undefined;
  /** When the inputs entered the batcher's queue (or the remote call began); equals `encoded`. */
  queued: number | undefined;
  batchStart: number | undefined;
  batchEnd: number | undefined;
  decoded: number | undefined;
  /** When the call failed, if it did (a refusal at admission, a deadline, an engine error). */
  failed: number | undefined;

  constructor(received: number) {
    this.received = received;
  }

  /**
   * Starts again for another version (a fallback answering for a failed primary): the
   * timeline describes the answer the caller got.
   */
  restart(received: number): this {
    this.received = received;
    this.encoded = this.queued = this.batchStart = this.batchEnd = this.decoded = this.failed = undefined;
    return this;
  }

  /** Milliseconds from `received` to `decoded` (or to the failure). */
  get totalMs(): number | undefined {
    const end = this.decoded ?? this.failed;
    return end === undefined ? undefined : end - this.received;
  }

  /** The marks relative to `received`, rounded to µs: for logs and answers that show them. */
  toJSON(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const key of ['encoded', 'queued', 'batchStart', 'batchEnd', 'decoded', 'failed'] as const) {
      const mark = this[key];
      if (mark !== undefined) out[`${key}_ms`] = Math.round((mark - this.received) * 1000) / 1000;
    }
    return out;
  }
}
