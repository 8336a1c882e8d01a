/**
 * Retry timing: exponential backoff with "full jitter" (a uniformly random delay between 0 and
 * the exponential cap), which spreads retries of many clients apart instead of having them
 * hammer a recovering upstream in lockstep. The random source is injected so tests are exact.
 */

export interface BackoffSettings {
  /** Cap of the first retry's delay; doubles with every further retry. */
  baseDelayMs: number;
  /** No retry waits longer than this (before Retry-After is considered). */
  maxDelayMs: number;
}

/** Delay before retry number `retry` (0 = the first retry): random in [0, min(max, base * 2^retry)). */
export function backoffDelayMs(retry: number, settings: BackoffSettings, random: () => number = Math.random): number {
  const ceiling = Math.min(settings.maxDelayMs, settings.baseDelayMs * 2 ** Math.max(0, retry));
  return Math.floor(random() * ceiling);
}

/**
 * `Retry-After` in milliseconds from now: either delta-seconds ("120") or an HTTP-date
 * ("Wed, 21 Oct 2015 07:28:00 GMT"). Undefined when absent or unparseable; never negative.
 */
export function parseRetryAfterMs(value: string | string[] | undefined | null, nowMs: number = Date.now()): number | undefined {
  const raw = (Array.isArray(value) ? value[0] : value)?.trim();
  if (!raw) return undefined;
  if (/^\d+(\.\d+)?$/.test(raw)) return Math.round(Number(raw) * 1000);
  // Only full HTTP-dates: Date.parse would accept "1" or "-5" as years.
  if (!/[a-z]/i.test(raw)) return undefined;
  const at = Date.parse(raw);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - nowMs);
}

/** Whole seconds for a Retry-After header sent to our callers: at least 1. */
export function toRetryAfterSeconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}
