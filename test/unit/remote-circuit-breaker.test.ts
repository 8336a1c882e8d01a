import { describe, expect, it } from 'vitest';
import { CircuitBreaker, type CircuitState } from '../../src/runtimes/remote/circuit-breaker.js';

function setup(failureThreshold = 3, cooldownMs = 1000) {
  let clock = 0;
  const states: CircuitState[] = [];
  const breaker = new CircuitBreaker({ failureThreshold, cooldownMs }, (s) => states.push(s), () => clock);
  return { breaker, states, advance: (ms: number) => (clock += ms) };
}

describe('CircuitBreaker', () => {
  it('stays closed below the threshold and a success resets the count', () => {
    const { breaker } = setup(3);
    breaker.failure();
    breaker.failure();
    breaker.success();
    breaker.failure();
    breaker.failure();
    expect(breaker.state).toBe('closed');
    expect(breaker.tryAcquire()).toEqual({ allowed: true, trial: false });
  });

  it('opens after N consecutive failures and refuses with the remaining cool-down', () => {
    const { breaker, states, advance } = setup(3, 1000);
    for (let i = 0; i < 3; i++) breaker.failure();
    expect(breaker.state).toBe('open');
    expect(states).toEqual(['open']);
    advance(400);
    expect(breaker.refusalMs()).toBe(600);
    expect(breaker.tryAcquire()).toEqual({ allowed: false, retryAfterMs: 600 });
    advance(600);
    expect(breaker.refusalMs()).toBeUndefined();
    expect(breaker.state).toBe('open'); // asking changed nothing
  });

  it('lets exactly one trial through after the cool-down, and closes on its success', () => {
    const { breaker, states, advance } = setup(1, 1000);
    breaker.failure();
    advance(1000);
    expect(breaker.tryAcquire()).toEqual({ allowed: true, trial: true });
    expect(breaker.state).toBe('half_open');
    expect(breaker.tryAcquire().allowed).toBe(false);
    breaker.success();
    expect(breaker.state).toBe('closed');
    expect(states).toEqual(['open', 'half_open', 'closed']);
  });

  it('re-opens for a fresh cool-down when the trial fails', () => {
    const { breaker, advance } = setup(1, 1000);
    breaker.failure();
    advance(1500);
    expect(breaker.tryAcquire().allowed).toBe(true);
    breaker.failure();
    expect(breaker.state).toBe('open');
    advance(999);
    expect(breaker.tryAcquire()).toEqual({ allowed: false, retryAfterMs: 1 });
  });

  it('frees the trial slot when the trial ends without a verdict (caller left)', () => {
    const { breaker, advance } = setup(1, 1000);
    breaker.failure();
    advance(1000);
    expect(breaker.tryAcquire().allowed).toBe(true);
    breaker.release();
    expect(breaker.tryAcquire()).toEqual({ allowed: true, trial: true });
  });
});
