import { describe, expect, it } from 'vitest';
import { backoffDelayMs, parseRetryAfterMs, toRetryAfterSeconds } from '../../src/runtimes/remote/backoff.js';

const settings = { baseDelayMs: 100, maxDelayMs: 1000 };

describe('backoffDelayMs (exponential, full jitter)', () => {
  it('draws uniformly below base * 2^retry', () => {
    expect(backoffDelayMs(0, settings, () => 0.5)).toBe(50);
    expect(backoffDelayMs(1, settings, () => 0.5)).toBe(100);
    expect(backoffDelayMs(2, settings, () => 0.5)).toBe(200);
    expect(backoffDelayMs(2, settings, () => 0)).toBe(0);
    expect(backoffDelayMs(2, settings, () => 0.999999)).toBe(399);
  });

  it('never exceeds maxDelayMs however many retries', () => {
    expect(backoffDelayMs(10, settings, () => 0.999999)).toBe(999);
    expect(backoffDelayMs(60, settings, () => 0.5)).toBe(500);
  });

  it('spreads concurrent clients apart (different random draws, different delays)', () => {
    const draws = [0.1, 0.7];
    expect(new Set(draws.map((r) => backoffDelayMs(3, settings, () => r))).size).toBe(2);
  });
});

describe('parseRetryAfterMs', () => {
  const now = Date.parse('2026-11-21T12:00:00Z');

  it('reads delta-seconds', () => {
    expect(parseRetryAfterMs('120', now)).toBe(120_000);
    expect(parseRetryAfterMs('0', now)).toBe(0);
    expect(parseRetryAfterMs(' 2 ', now)).toBe(2000);
    expect(parseRetryAfterMs('1.5', now)).toBe(1500);
  });

  it('reads an HTTP-date relative to now, never negative', () => {
    expect(parseRetryAfterMs('Sat, 21 Nov 2026 12:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfterMs('Sat, 21 Nov 2026 11:00:00 GMT', now)).toBe(0);
  });

  it('ignores absent or unparseable values', () => {
    expect(parseRetryAfterMs(undefined, now)).toBeUndefined();
    expect(parseRetryAfterMs('', now)).toBeUndefined();
    expect(parseRetryAfterMs('-5', now)).toBeUndefined();
    expect(parseRetryAfterMs('soon', now)).toBeUndefined();
  });

  it('takes the first of repeated headers', () => {
    expect(parseRetryAfterMs(['3', '9'], now)).toBe(3000);
  });
});

describe('toRetryAfterSeconds', () => {
  it('rounds up to whole seconds, at least 1', () => {
    expect(toRetryAfterSeconds(0)).toBe(1);
    expect(toRetryAfterSeconds(1001)).toBe(2);
    expect(toRetryAfterSeconds(30_000)).toBe(30);
  });
});
