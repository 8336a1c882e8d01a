import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { UpstreamFailure } from '../../src/runtimes/remote/errors.js';
import { UpstreamGuard } from '../../src/runtimes/remote/guard.js';
import { RemoteMetrics } from '../../src/runtimes/remote/remote-metrics.js';
import { resolveRemoteSettings } from '../../src/runtimes/remote/settings.js';
import { MalformedResponse, UpstreamHttpError, type AttemptContext } from '../../src/runtimes/remote/upstream-http.js';

/** A guard whose sleeps are recorded instead of waited, with a fixed random draw and a hand-moved clock. */
function setup(remote: Record<string, unknown> = {}) {
  const registry = new Registry();
  const metrics = RemoteMetrics.for(registry);
  const settings = resolveRemoteSettings(
    {
      model: 'm',
      timeoutMs: 200,
      retry: { maxRetries: 2, baseDelayMs: 100, maxDelayMs: 1000, maxRetryAfterMs: 5000 },
      circuitBreaker: { failureThreshold: 3, cooldownMs: 10_000 },
      concurrency: { maxInFlight: 1, maxQueue: 1 },
      ...remote,
    },
    'http://upstream.invalid',
  );
  let clock = 0;
  const sleeps: number[] = [];
  const guard = new UpstreamGuard('thought', settings, metrics, {
    random: () => 0.5,
    now: () => clock,
    sleep: async (ms) => {
      sleeps.push(ms);
      clock += ms;
    },
  });
  const value = async (name: string, labels: Record<string, string> = {}) =>
    (await registry.getSingleMetric(name)!.get()).values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))?.value ?? 0;
  return { guard, sleeps, value, advance: (ms: number) => (clock += ms) };
}

/** An attempt that fails with each of `errors` in turn, then answers "ok". */
function script(...errors: unknown[]) {
  let calls = 0;
  const attempt = async (ctx: AttemptContext) => {
    const error = errors[calls++];
    if (error instanceof UpstreamHttpError) ctx.status(error.status);
    if (error) throw error;
    ctx.status(200);
    return 'ok';
  };
  return { attempt, calls: () => calls };
}

const http = (status: number, retryAfterMs?: number) => new UpstreamHttpError(status, `upstream said ${status}`, retryAfterMs);
const network = () => Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' });

async function failure(promise: Promise<unknown>): Promise<UpstreamFailure> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(UpstreamFailure);
  return error as UpstreamFailure;
}

describe('UpstreamGuard retries', () => {
  it('retries 5xx and network errors with jittered exponential backoff, then succeeds', async () => {
    const { guard, sleeps, value } = setup({ circuitBreaker: { failureThreshold: 10 } });
    const { attempt, calls } = script(http(500), network());
    await expect(guard.call(attempt)).resolves.toBe('ok');
    expect(calls()).toBe(3);
    expect(sleeps).toEqual([50, 100]); // random 0.5 x (100, 200)
    expect(await value('vigil_remote_retries_total', { reason: 'server_error' })).toBe(1);
    expect(await value('vigil_remote_retries_total', { reason: 'network_error' })).toBe(1);
    expect(await value('vigil_remote_upstream_responses_total', { status: '500' })).toBe(1);
    expect(await value('vigil_remote_upstream_responses_total', { status: 'network_error' })).toBe(1);
    expect(await value('requests_api_total')).toBe(1);
  });

  it('honours Retry-After on 429 when it is within the cap', async () => {
    const { guard, sleeps } = setup();
    const { attempt } = script(http(429, 3000));
    await expect(guard.call(attempt)).resolves.toBe('ok');
    expect(sleeps).toEqual([3000]);
  });

  it('does not wait for a Retry-After past the cap: the caller gets 503 upstream_rate_limited with it', async () => {
    const { guard, sleeps, value } = setup();
    const { attempt, calls } = script(http(429, 60_000));
    const error = await failure(guard.call(attempt));
    expect(calls()).toBe(1);
    expect(sleeps).toEqual([]);
    expect(error.status).toBe(503);
    expect(error.code).toBe('upstream_rate_limited');
    expect(error.details.retryAfterSeconds).toBe(60);
    expect(await value('errors_api_total', { reason: 'upstream_rate_limited' })).toBe(1);
  });

  it('gives up after maxRetries with the last error, mapped to a stable code', async () => {
    const { guard, sleeps } = setup({ circuitBreaker: { failureThreshold: 10 } });
    const { attempt, calls } = script(http(503), http(503), http(503), http(503));
    const error = await failure(guard.call(attempt));
    expect(calls()).toBe(3);
    expect(sleeps).toHaveLength(2);
    expect([error.status, error.code]).toEqual([503, 'upstream_unavailable']);
  });

  it('does not retry what retrying cannot fix: 401, other 4xx, malformed answers', async () => {
    for (const [thrown, status, code] of [
      [http(401), 502, 'auth_failed'],
      [http(422), 502, 'upstream_error'],
      [new MalformedResponse('not JSON'), 502, 'upstream_error'],
    ] as const) {
      const { guard, sleeps } = setup();
      const { attempt, calls } = script(thrown);
      const error = await failure(guard.call(attempt));
      expect([calls(), sleeps.length, error.status, error.code]).toEqual([1, 0, status, code]);
    }
  });

  it('never retries once the first token went out', async () => {
    const { guard, sleeps } = setup();
    let calls = 0;
    const attempt = async (ctx: AttemptContext) => {
      calls++;
      ctx.firstToken();
      throw network();
    };
    const error = await failure(guard.call(attempt, { streaming: true }));
    expect(calls).toBe(1);
    expect(sleeps).toEqual([]);
    expect(error.message).toMatch(/not retried/);
  });

  it('times out a silent attempt, answering 504 upstream_timeout', async () => {
    const { guard, value } = setup({ retry: { maxRetries: 0 } });
    const attempt = (ctx: AttemptContext) =>
      new Promise<string>((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason)));
    const error = await failure(guard.call(attempt));
    expect([error.status, error.code]).toEqual([504, 'upstream_timeout']);
    expect(await value('vigil_remote_upstream_responses_total', { status: 'timeout' })).toBe(1);
  });
});

describe('UpstreamGuard circuit breaker', () => {
  it('opens after consecutive failed attempts, then refuses at once without calling upstream', async () => {
    const { guard, value, advance } = setup({ retry: { maxRetries: 0 } });
    for (let i = 0; i < 3; i++) await failure(guard.call(script(http(500)).attempt));
    expect(await value('vigil_remote_circuit_state', { model: 'thought' })).toBe(1);

    const { attempt, calls } = script();
    const refused = await failure(guard.call(attempt));
    expect(calls()).toBe(0);
    expect([refused.status, refused.code, refused.details.retryAfterSeconds]).toEqual([503, 'circuit_open', 10]);

    advance(10_000); // cool-down over: one trial call goes through and closes the circuit
    await expect(guard.call(attempt)).resolves.toBe('ok');
    expect(calls()).toBe(1);
    expect(await value('vigil_remote_circuit_state', { model: 'thought' })).toBe(0);
  });

  it('stops retrying when its own failures open the circuit', async () => {
    const { guard, sleeps } = setup({ retry: { maxRetries: 5 }, circuitBreaker: { failureThreshold: 2 } });
    const { attempt, calls } = script(http(503), http(503), http(503));
    const error = await failure(guard.call(attempt));
    expect(calls()).toBe(2);
    expect(sleeps).toHaveLength(1);
    expect(error.code).toBe('upstream_unavailable');
    expect(guard.breaker.state).toBe('open');
  });

  it('does not count a 4xx refusal of one request as an outage', async () => {
    const { guard } = setup({ retry: { maxRetries: 0 }, circuitBreaker: { failureThreshold: 1 } });
    await failure(guard.call(script(http(400)).attempt));
    expect(guard.breaker.state).toBe('closed');
  });
});

describe('UpstreamGuard concurrency cap', () => {
  it('queues past maxInFlight and sheds past maxQueue with 503 overloaded', async () => {
    const { guard, value } = setup();
    let finish!: () => void;
    const gate = new Promise<void>((resolve) => (finish = resolve));
    const slow = async () => {
      await gate;
      return 'slow';
    };
    const first = guard.call(slow);
    const second = guard.call(slow);
    expect(await value('vigil_remote_upstream_in_flight', { model: 'thought' })).toBe(1);
    expect(await value('vigil_remote_upstream_queued', { model: 'thought' })).toBe(1);
    const shed = await failure(guard.call(slow));
    expect([shed.status, shed.code, shed.details.retryAfterSeconds]).toEqual([503, 'overloaded', 1]);
    finish();
    await expect(Promise.all([first, second])).resolves.toEqual(['slow', 'slow']);
    expect(await value('vigil_remote_upstream_in_flight', { model: 'thought' })).toBe(0);
  });

  it('a caller that leaves while queued gives its place up (client_closed)', async () => {
    const { guard } = setup();
    let finish!: () => void;
    const gate = new Promise<void>((resolve) => (finish = resolve));
    const first = guard.call(async () => gate.then(() => 'first'));
    const controller = new AbortController();
    const queued = guard.call(async () => 'never', { signal: controller.signal });
    controller.abort();
    expect((await failure(queued)).code).toBe('client_closed');
    expect(guard.limiter.queued).toBe(0);
    finish();
    await first;
  });
});
