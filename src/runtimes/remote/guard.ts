import type { StandingRefusal } from '../../errors.js';
import type { Logger } from '../../observability/logger.js';
import { backoffDelayMs, toRetryAfterSeconds } from './backoff.js';
import { CIRCUIT_STATE_VALUE, CircuitBreaker } from './circuit-breaker.js';
import { ConcurrencyLimiter } from './concurrency.js';
import {
  authFailed,
  circuitOpen,
  circuitOpenRefusal,
  clientClosed,
  UpstreamFailure,
  upstreamError,
  upstreamOverloaded,
  upstreamRateLimited,
  upstreamTimeout,
  upstreamUnavailable,
} from './errors.js';
import { statusLabel, type RemoteMetrics, type RetryReason } from './remote-metrics.js';
import type { ResolvedRemoteSettings } from './settings.js';
import { MalformedResponse, StreamedError, UpstreamHttpError, type AttemptContext } from './upstream-http.js';

export interface GuardDependencies {
  random?: () => number;
  now?: () => number;
  /** Waits `ms`, rejecting early with the signal's reason when it aborts. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  logger?: Logger;
  /** Removes secrets from messages that reach callers and logs (upstream bodies may echo headers). */
  scrub?: (text: string) => string;
}

export interface GuardedCallOptions {
  /** The caller's own signal: aborting it (client disconnect) aborts the upstream call. */
  signal?: AbortSignal;
  /** A stream: the timeout is the longest silence between chunks rather than a total. */
  streaming?: boolean;
}

/** One failed attempt, classified: what to tell the caller, and whether a retry may help. */
interface Verdict {
  error: UpstreamFailure;
  /** Set when retrying may help. */
  retry?: RetryReason;
  /** Counts toward opening the circuit (the upstream, not the request, is at fault). */
  breakerFailure: boolean;
  retryAfterMs?: number;
}

const defaultSleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });

/**
 * Everything that stands between a remote model and its upstream, in this order:
 * concurrency cap (bounded queue, shed past it) -> circuit breaker (checked before every
 * attempt) -> the attempt under a timeout -> retries with backoff + full jitter on network
 * errors, 429 and 5xx, honouring Retry-After up to a cap, never after a streamed token.
 * Each step has its metric; the caller only ever sees an UpstreamFailure with a stable code.
 */
export class UpstreamGuard {
  readonly breaker: CircuitBreaker;
  readonly limiter: ConcurrencyLimiter;
  private readonly random: () => number;
  private readonly now: () => number;
  private readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  private readonly logger: Logger | undefined;
  private readonly scrub: (text: string) => string;

  constructor(
    readonly modelName: string,
    private readonly settings: ResolvedRemoteSettings,
    private readonly metrics: RemoteMetrics,
    deps: GuardDependencies = {},
  ) {
    this.random = deps.random ?? Math.random;
    this.now = deps.now ?? (() => performance.now());
    this.sleep = deps.sleep ?? defaultSleep;
    this.logger = deps.logger;
    this.scrub = deps.scrub ?? ((text) => text);
    const labels = { model: modelName };
    this.breaker = new CircuitBreaker(
      settings.circuitBreaker,
      (state) => {
        metrics.circuitState.set(labels, CIRCUIT_STATE_VALUE[state]);
        this.logger?.warn({ model: modelName, circuit: state }, `circuit ${state.replace('_', '-')}`);
      },
      deps.now,
    );
    this.limiter = new ConcurrencyLimiter(settings.concurrency.maxInFlight, settings.concurrency.maxQueue, (inFlight, queued) => {
      metrics.inFlight.set(labels, inFlight);
      metrics.queued.set(labels, queued);
    });
    metrics.circuitState.set(labels, 0);
    metrics.inFlight.set(labels, 0);
    metrics.queued.set(labels, 0);
  }

  /** Runs `attempt` (one HTTP exchange) under every protection; see the class comment. */
  async call<T>(attempt: (ctx: AttemptContext) => Promise<T>, options: GuardedCallOptions = {}): Promise<T> {
    const started = this.now();
    this.metrics.requests.inc();
    try {
      const result = await this.callWithSlot(attempt, options, started);
      this.metrics.latency.observe((this.now() - started) / 1000);
      return result;
    } catch (error) {
      const failure = error instanceof UpstreamFailure ? error : upstreamError(this.modelName, (error as Error).message);
      failure.message = this.scrub(failure.message);
      this.metrics.errors.inc({ reason: failure.upstreamCode });
      throw failure;
    }
  }

  /**
   * What a call would be answered now without reaching the upstream (the circuit is open and
   * its cooldown not over), counted as that call in requests_api_total and errors_api_total;
   * undefined when a call would go ahead. The HTTP door asks before it reads a request, so that
   * a client hammering an open circuit costs the server what any refusal costs.
   */
  standingRefusal(): StandingRefusal | undefined {
    const refusedFor = this.breaker.refusalMs();
    if (refusedFor === undefined) return undefined;
    this.metrics.requests.inc();
    this.metrics.errors.inc({ reason: 'circuit_open' });
    return circuitOpenRefusal(this.modelName, toRetryAfterSeconds(refusedFor));
  }

  private async callWithSlot<T>(attempt: (ctx: AttemptContext) => Promise<T>, options: GuardedCallOptions, started: number): Promise<T> {
    const { signal } = options;
    if (signal?.aborted) throw clientClosed(this.modelName);
    // Refuse at once while the circuit is open, rather than queueing for a dead upstream.
    const refusedFor = this.breaker.refusalMs();
    if (refusedFor !== undefined) throw circuitOpen(this.modelName, toRetryAfterSeconds(refusedFor));
    const slot = this.limiter.acquire(signal);
    if (!slot) throw upstreamOverloaded(this.modelName, this.settings.concurrency.maxQueue);
    let release: () => void;
    try {
      release = await slot;
    } catch {
      throw clientClosed(this.modelName);
    }
    try {
      return await this.attempts(attempt, options, started);
    } finally {
      release();
    }
  }

  private async attempts<T>(attempt: (ctx: AttemptContext) => Promise<T>, options: GuardedCallOptions, started: number): Promise<T> {
    const labels = { model: this.modelName };
    for (let retry = 0; ; retry++) {
      const admission = this.breaker.tryAcquire();
      if (!admission.allowed) throw circuitOpen(this.modelName, toRetryAfterSeconds(admission.retryAfterMs));

      let committed = false;
      let timedOut = false;
      const controller = new AbortController();
      const onCallerAbort = () => controller.abort(options.signal?.reason);
      options.signal?.addEventListener('abort', onCallerAbort, { once: true });
      let timer: NodeJS.Timeout | undefined;
      const arm = () => {
        clearTimeout(timer);
        timer = setTimeout(() => {
          timedOut = true;
          controller.abort(new Error('upstream timeout'));
        }, this.settings.timeoutMs);
      };
      arm();
      const ctx: AttemptContext = {
        signal: controller.signal,
        status: (code) => this.metrics.upstreamResponses.inc({ ...labels, status: statusLabel(code) }),
        progress: () => {
          if (options.streaming) arm();
        },
        firstToken: () => {
          if (committed) return;
          committed = true;
          this.metrics.timeToFirstToken.observe(labels, (this.now() - started) / 1000);
        },
      };

      try {
        const result = await attempt(ctx);
        this.breaker.success();
        return result;
      } catch (error) {
        if (options.signal?.aborted) {
          this.breaker.release();
          throw clientClosed(this.modelName);
        }
        const verdict = this.classify(error, timedOut, committed);
        if (verdict.breakerFailure) this.breaker.failure();
        else this.breaker.release();
        const delay = this.retryDelay(verdict, retry, committed);
        if (delay === undefined) throw verdict.error;
        this.metrics.retries.inc({ ...labels, reason: verdict.retry! });
        this.logger?.warn(
          { model: this.modelName, retry: retry + 1, reason: verdict.retry, code: verdict.error.code, delay_ms: delay },
          'retrying upstream call',
        );
        try {
          await this.sleep(delay, options.signal);
        } catch {
          throw clientClosed(this.modelName);
        }
      } finally {
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', onCallerAbort);
      }
    }
  }

  /** How long to wait before the next attempt, or undefined to give up now. */
  private retryDelay(verdict: Verdict, retry: number, committed: boolean): number | undefined {
    if (!verdict.retry || committed || retry >= this.settings.retry.maxRetries) return undefined;
    // This failure opened the circuit: a retry would only be refused; report the real cause now.
    if (this.breaker.state === 'open') return undefined;
    const jittered = backoffDelayMs(retry, this.settings.retry, this.random);
    if (verdict.retryAfterMs === undefined) return jittered;
    // Retrying before the upstream said we may is pointless; past the cap, let the caller wait instead.
    if (verdict.retryAfterMs > this.settings.retry.maxRetryAfterMs) return undefined;
    return Math.max(jittered, verdict.retryAfterMs);
  }

  private classify(error: unknown, timedOut: boolean, committed: boolean): Verdict {
    const model = this.modelName;
    const labels = { model };
    const midStream = committed ? ' (the stream broke after its first token, so it was not retried)' : '';
    if (timedOut) {
      this.metrics.upstreamResponses.inc({ ...labels, status: 'timeout' });
      return { error: upstreamTimeout(model, this.settings.timeoutMs), breakerFailure: true };
    }
    if (error instanceof UpstreamHttpError) {
      const { status, retryAfterMs } = error;
      if (status === 401 || status === 403) return { error: authFailed(model, status), breakerFailure: true };
      if (status === 429) {
        const seconds = toRetryAfterSeconds(retryAfterMs ?? this.settings.retry.baseDelayMs);
        return { error: upstreamRateLimited(model, seconds), retry: 'rate_limited', breakerFailure: true, retryAfterMs };
      }
      if (status === 408 || status === 502 || status === 503 || status === 504) {
        const seconds = retryAfterMs === undefined ? undefined : toRetryAfterSeconds(retryAfterMs);
        return { error: upstreamUnavailable(model, `HTTP ${status}: ${error.detail}`, seconds), retry: 'server_error', breakerFailure: true, retryAfterMs };
      }
      if (status >= 500) return { error: upstreamError(model, `HTTP ${status}: ${error.detail}`), retry: 'server_error', breakerFailure: true, retryAfterMs };
      // Another 4xx: the upstream is up and refused this request; not an outage.
      return { error: upstreamError(model, `HTTP ${status}: ${error.detail}`), breakerFailure: false };
    }
    if (error instanceof MalformedResponse) return { error: upstreamError(model, error.message + midStream), breakerFailure: true };
    if (error instanceof StreamedError) {
      return { error: upstreamError(model, error.message + midStream), retry: 'server_error', breakerFailure: true };
    }
    // Anything else is the network: refused, reset, DNS, TLS, a socket closed mid-body.
    this.metrics.upstreamResponses.inc({ ...labels, status: 'network_error' });
    const code = (error as { code?: string }).code;
    const detail = `${code ?? (error as Error).name ?? 'network error'}${midStream}`;
    return { error: upstreamUnavailable(model, detail), retry: 'network_error', breakerFailure: true };
  }
}
