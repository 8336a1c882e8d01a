import { VigilError, type StandingRefusal } from '../../errors.js';

/**
 * How a failed upstream call is reported to Vigil's callers. Every code here is part of the
 * API (see docs/dual-mode.md). The status says whose fault it was: the upstream limited or
 * dropped *us* (503, with Retry-After when we know when to come back), the upstream answered
 * something unusable (502), or it did not answer in time (504). None of them is the caller's
 * fault, so none is a 4xx.
 */
export type UpstreamErrorCode =
  | 'upstream_timeout'
  | 'upstream_rate_limited'
  | 'upstream_unavailable'
  | 'upstream_error'
  | 'auth_failed'
  | 'circuit_open'
  | 'overloaded'
  | 'client_closed';

export class UpstreamFailure extends VigilError {
  constructor(
    status: number,
    readonly upstreamCode: UpstreamErrorCode,
    message: string,
    retryAfterSeconds?: number,
  ) {
    super(status, upstreamCode, message, retryAfterSeconds === undefined ? {} : { retryAfterSeconds });
    this.name = 'UpstreamFailure';
  }
}

export const upstreamTimeout = (model: string, ms: number) =>
  new UpstreamFailure(504, 'upstream_timeout', `the upstream API did not answer for model "${model}" within ${ms} ms`);

/** The upstream limited this server, not the caller: 503 so clients back off, never 429. */
export const upstreamRateLimited = (model: string, retryAfterSeconds: number) =>
  new UpstreamFailure(
    503,
    'upstream_rate_limited',
    `the upstream API is rate-limiting this server for model "${model}"; retry after ${retryAfterSeconds} s`,
    retryAfterSeconds,
  );

export const upstreamUnavailable = (model: string, detail: string, retryAfterSeconds?: number) =>
  new UpstreamFailure(503, 'upstream_unavailable', `the upstream API is unavailable for model "${model}": ${detail}`, retryAfterSeconds);

export const upstreamError = (model: string, detail: string) =>
  new UpstreamFailure(502, 'upstream_error', `the upstream API failed for model "${model}": ${detail}`);

/**
 * The upstream refused this server's credentials. 502: the gateway (us) is misconfigured; the
 * caller can neither fix it nor cure it by waiting, so no Retry-After.
 */
export const authFailed = (model: string, status: number) =>
  new UpstreamFailure(
    502,
    'auth_failed',
    `the upstream API rejected this server's credentials for model "${model}" (HTTP ${status}); the operator must fix the token (HF_TOKEN / HF_TOKEN_FILE), retrying will not help`,
  );

const circuitOpenMessage = (model: string, retryAfterSeconds: number) =>
  `model "${model}" is failing upstream, so calls are paused (circuit open); retry after ${retryAfterSeconds} s`;

export const circuitOpen = (model: string, retryAfterSeconds: number) =>
  new UpstreamFailure(503, 'circuit_open', circuitOpenMessage(model, retryAfterSeconds), retryAfterSeconds);

/** The same answer as circuitOpen's, as a value for the HTTP door (StandingRefusal). */
export const circuitOpenRefusal = (model: string, retryAfterSeconds: number): StandingRefusal => ({
  code: 'circuit_open',
  message: circuitOpenMessage(model, retryAfterSeconds),
  retryAfterSeconds,
});

export const upstreamOverloaded = (model: string, limit: number) =>
  new UpstreamFailure(
    503,
    'overloaded',
    `too many calls to the upstream API for model "${model}" are waiting (limit ${limit}); retry shortly`,
    1,
  );

/** The caller went away; nobody reads this answer, it only keeps the bookkeeping honest. */
export const clientClosed = (model: string) =>
  new UpstreamFailure(499, 'client_closed', `the client closed the request to model "${model}" before it finished`);
