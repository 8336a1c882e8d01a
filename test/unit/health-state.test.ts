import { describe, expect, it } from 'vitest';
import { aliveAnswer, heartbeatAge, oipLiveAnswer, oipReadyAnswer, readyAnswer, stalled, type HealthFacts, type Readiness } from '../../src/http/health-state.js';

/**
 * The health port's decisions from given timestamps (the bound's edges, a heartbeat newer than
 * the clock read, readiness while stalled). The thread and port, and a real stall (the server
 * thread paused in the debugger), are in test/integration/health-port.test.ts.
 */

const READY: Readiness = { ready: true, models: [{ name: 'sentiment', version: '1', state: 'ready', required: true }] };
const facts = (overrides: Partial<HealthFacts>): HealthFacts => ({ now: 100_000, heartbeat: 100_000, uptimeSeconds: 12.5, stallMs: 5000, readiness: READY, ...overrides });

describe('the health port: liveness from the heartbeat', () => {
  it('a fresh heartbeat is alive: 200 with its age', () => {
    const answer = aliveAnswer(facts({ now: 100_080, heartbeat: 100_000 }));
    expect(answer).toEqual({ status: 200, body: { status: 'alive', uptime_seconds: 12.5, heartbeat_age_ms: 80 } });
  });

  it('a heartbeat exactly at the bound is still alive; one millisecond past it is stalled', () => {
    expect(aliveAnswer(facts({ now: 105_000, heartbeat: 100_000 })).status).toBe(200);
    expect(stalled(facts({ now: 105_000, heartbeat: 100_000 }))).toBe(false);
    expect(aliveAnswer(facts({ now: 105_001, heartbeat: 100_000 })).status).toBe(503);
  });

  it('a stalled server thread: 503 saying for how long and what the bound is', () => {
    const answer = aliveAnswer(facts({ now: 112_345.6, heartbeat: 100_000, stallMs: 3000 }));
    expect(answer.status).toBe(503);
    expect(answer.body).toMatchObject({ status: 'stalled', stalled_ms: 12_346, stall_bound_ms: 3000 });
    expect(answer.body.message).toBe('the server thread has shown no progress for 12346 ms (bound: --health-stall-ms 3000)');
  });

  it('a heartbeat stored after the health thread read the clock counts as fresh, not negative', () => {
    expect(heartbeatAge(facts({ now: 100_000, heartbeat: 100_003 }))).toBe(0);
    expect(aliveAnswer(facts({ now: 100_000, heartbeat: 100_003 })).status).toBe(200);
  });

  it('the Open Inference Protocol live endpoint follows the same decision', () => {
    expect(oipLiveAnswer(facts({}))).toEqual({ status: 200, body: { live: true } });
    expect(oipLiveAnswer(facts({ now: 200_000 }))).toEqual({ status: 503, body: { live: false } });
  });
});

describe('the health port: readiness mirrored from the server thread', () => {
  it('says what the server thread last posted, with the same status as the main /ready', () => {
    expect(readyAnswer(facts({}))).toEqual({ status: 200, body: READY });
    const draining: Readiness = { ready: false, reason: 'shutting down', models: READY.models };
    expect(readyAnswer(facts({ readiness: draining }))).toEqual({ status: 503, body: draining });
    const loading: Readiness = { ready: false, models: [{ name: 'sentiment', version: '1', state: 'loading', required: true }] };
    expect(readyAnswer(facts({ readiness: loading }))).toEqual({ status: 503, body: loading });
  });

  it('a stalled server thread is not ready, whatever it last said', () => {
    const answer = readyAnswer(facts({ now: 110_000, heartbeat: 100_000 }));
    expect(answer.status).toBe(503);
    expect(answer.body).toMatchObject({ ready: false, reason: 'server thread stalled', stalled_ms: 10_000, stall_bound_ms: 5000, models: READY.models });
  });

  it('nothing posted yet: not ready', () => {
    expect(readyAnswer(facts({ readiness: undefined }))).toEqual({ status: 503, body: { ready: false, reason: 'starting', models: [] } });
  });

  it('the Open Inference Protocol ready endpoint follows the same decision', () => {
    expect(oipReadyAnswer(facts({}))).toEqual({ status: 200, body: { ready: true } });
    expect(oipReadyAnswer(facts({ readiness: { ready: false, models: [] } }))).toEqual({ status: 503, body: { ready: false } });
    expect(oipReadyAnswer(facts({ now: 200_000 }))).toEqual({ status: 503, body: { ready: false } });
  });
});
