/**
 * Admission at the door: a bound on requests in flight for the whole process and per model,
 * counted from the moment a request's headers are read (the HTTP layer's first hook; the gRPC
 * server calls the same two methods), not from when its inputs reach a model's batcher. A
 * request past either bound is refused at once, before its body is read or parsed: refusing
 * costs microseconds and never slows what was admitted (Envoy's overload manager, TGI's
 * max_concurrent_requests, Triton's queue policy do the same).
 *
 * Protocol-neutral: it knows nothing of HTTP. `admit` answers undefined (admitted: call
 * `release` with the same model exactly once when the request is over, answered or abandoned)
 * or a refusal that says which bound, its value and how long to wait.
 */

export interface AdmissionLimits {
  /** Requests in flight in the whole process (every route but health and metrics). */
  maxInFlight: number;
  /** Inference requests in flight per model (all its versions together). */
  maxInFlightPerModel: number;
}

export type RefusalReason = 'server_in_flight' | 'model_in_flight';

export interface Refusal {
  reason: RefusalReason;
  /** The bound that was reached. */
  limit: number;
  retryAfterSeconds: number;
  message: string;
}

/** Retry-After, from the measured drain rate, stays within these bounds. */
const MIN_RETRY_AFTER_S = 1;
const MAX_RETRY_AFTER_S = 30;
/** The drain rate is measured over windows of this length and smoothed across them. */
const RATE_WINDOW_MS = 1000;
const RATE_SMOOTHING = 0.5;

export class Admission {
  private inFlightTotal = 0;
  private readonly perModel = new Map<string, number>();
  private completed = 0;
  private windowStart: number;
  private windowCompleted = 0;
  /** Requests finished per second (smoothed); undefined until a first window has passed. */
  private drainRate: number | undefined;

  constructor(
    readonly limits: AdmissionLimits,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.windowStart = this.now();
  }

  get inFlight(): number {
    return this.inFlightTotal;
  }

  inFlightFor(model: string): number {
    return this.perModel.get(model) ?? 0;
  }

  /**
   * Both bounds at once (gRPC, where the whole message has arrived). Undefined: admitted (call
   * release with the same model once when done). Otherwise why not.
   */
  admit(model?: string): Refusal | undefined {
    const refusal = this.admitServer();
    if (refusal || model === undefined) return refusal;
    const modelRefusal = this.admitModel(model);
    if (modelRefusal) this.inFlightTotal--; // undone, not finished: no completion counted
    return modelRefusal;
  }

  release(model?: string): void {
    if (model !== undefined) this.releaseModel(model);
    this.releaseServer();
  }

  /** The process bound alone: HTTP takes it from the headers, before the body is read. */
  admitServer(): Refusal | undefined {
    if (this.inFlightTotal >= this.limits.maxInFlight) {
      const retryAfterSeconds = this.retryAfterSeconds(this.inFlightTotal);
      return {
        reason: 'server_in_flight',
        limit: this.limits.maxInFlight,
        retryAfterSeconds,
        message: `the server is at its bound of ${this.limits.maxInFlight} requests in flight; retry after ${retryAfterSeconds} s`,
      };
    }
    this.inFlightTotal++;
    return undefined;
  }

  /**
   * A model's bound alone: HTTP takes it once the body has arrived, so a client that withholds
   * its body holds a process slot until the request timeout, never one of a model's.
   */
  admitModel(model: string): Refusal | undefined {
    const refusal = this.modelRefusal(model);
    if (!refusal) this.perModel.set(model, (this.perModel.get(model) ?? 0) + 1);
    return refusal;
  }

  /**
   * Why a request for `model` would be refused now, without taking a slot: HTTP asks at the
   * door, from the headers, so that a request for a model already at its bound is refused
   * before fastify reads and parses it (admitModel still takes the slot once the body is in).
   */
  modelRefusal(model: string): Refusal | undefined {
    const current = this.perModel.get(model) ?? 0;
    if (current < this.limits.maxInFlightPerModel) return undefined;
    const retryAfterSeconds = this.retryAfterSeconds(current);
    return {
      reason: 'model_in_flight',
      limit: this.limits.maxInFlightPerModel,
      retryAfterSeconds,
      message: `model "${model}" is at its bound of ${this.limits.maxInFlightPerModel} requests in flight; retry after ${retryAfterSeconds} s`,
    };
  }

  releaseModel(model: string): void {
    const current = this.perModel.get(model) ?? 0;
    // Deleted at zero: model names come from request paths, so the map must not keep them.
    if (current <= 1) this.perModel.delete(model);
    else this.perModel.set(model, current - 1);
  }

  releaseServer(): void {
    this.inFlightTotal--;
    this.completed++;
    this.windowCompleted++;
    const now = this.now();
    if (now - this.windowStart >= RATE_WINDOW_MS) this.closeWindow(now);
  }

  /** Requests finished per second, smoothed over the last windows (undefined before the first). */
  get measuredDrainRate(): number | undefined {
    return this.drainRate;
  }

  private closeWindow(now: number): void {
    const rate = (this.windowCompleted * 1000) / (now - this.windowStart);
    this.drainRate = this.drainRate === undefined ? rate : RATE_SMOOTHING * rate + (1 - RATE_SMOOTHING) * this.drainRate;
    this.windowStart = now;
    this.windowCompleted = 0;
  }

  /** How long `waiting` requests take to finish at the measured drain rate, in whole seconds. */
  private retryAfterSeconds(waiting: number): number {
    const now = this.now();
    // A window with no completion at all while requests wait says the drain is slow: count it.
    if (now - this.windowStart >= RATE_WINDOW_MS) this.closeWindow(now);
    const rate = this.drainRate;
    if (rate === undefined || rate <= 0) return rate === undefined ? MIN_RETRY_AFTER_S : MAX_RETRY_AFTER_S;
    return Math.min(MAX_RETRY_AFTER_S, Math.max(MIN_RETRY_AFTER_S, Math.ceil(waiting / rate)));
  }
}
