import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DeadlineExceeded, Overloaded } from '../../src/errors.js';
import { Batcher, type BatcherOptions, type ShedReason } from '../../src/serving/batcher.js';

/**
 * The batcher against a fake engine whose batches finish only when the test says so, and a
 * fake clock (vitest's fake timers drive both setTimeout and Date.now). Nothing here depends on
 * how fast the machine is.
 */

interface Call<In, Out> {
  items: In[];
  resolve(results: Out[]): void;
  reject(error: unknown): void;
}

function fakeEngine<In = number, Out = string>() {
  const calls: Call<In, Out>[] = [];
  const runBatch = (items: In[]) =>
    new Promise<Out[]>((resolve, reject) => {
      calls.push({ items: [...items], resolve, reject });
    });
  return { calls, runBatch };
}

/** Lets resolved promises run their callbacks. */
const flush = async () => {
  for (let i = 0; i < 10; i++) await Promise.resolve();
};

/** A promise's outcome without awaiting it: pending, resolved or rejected. */
function track<T>(promise: Promise<T>) {
  const state: { status: 'pending' | 'resolved' | 'rejected'; value?: T; error?: unknown } = { status: 'pending' };
  promise.then(
    (value) => Object.assign(state, { status: 'resolved', value }),
    (error: unknown) => Object.assign(state, { status: 'rejected', error }),
  );
  return state;
}

function observed() {
  const shed: ShedReason[] = [];
  const batches: number[] = [];
  const waits: number[] = [];
  const occupancy: [number, number][] = [];
  return {
    shed,
    batches,
    waits,
    occupancy,
    observer: {
      shed: (r: ShedReason) => shed.push(r),
      batch: (size: number) => batches.push(size),
      queueWait: (s: number) => waits.push(s),
      occupancy: (q: number, r: number) => occupancy.push([q, r]),
    },
  };
}

const options = (o: Partial<BatcherOptions> = {}): BatcherOptions => ({ maxBatchSize: 4, maxDelayMs: 5, maxQueue: 100, maxConcurrentBatches: 1, ...o });
const label = (items: number[]) => items.map((n) => `r${n}`);

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('batch formation', () => {
  it('waits maxDelayMs for company, then runs what it has', async () => {
    const engine = fakeEngine();
    const batcher = new Batcher(engine.runBatch, options({ maxDelayMs: 5 }), {}, () => Date.now());
    const a = track(batcher.submit(1));
    const b = track(batcher.submit(2));
    vi.advanceTimersByTime(4);
    expect(engine.calls).toHaveLength(0);
    vi.advanceTimersByTime(1);
    expect(engine.calls.map((c) => c.items)).toEqual([[1, 2]]);
    engine.calls[0]!.resolve(['one', 'two']);
    await flush();
    expect(a).toMatchObject({ status: 'resolved', value: 'one' });
    expect(b).toMatchObject({ status: 'resolved', value: 'two' });
  });

  it('runs a full batch at once, without waiting for the delay', () => {
    const engine = fakeEngine();
    const batcher = new Batcher(engine.runBatch, options({ maxBatchSize: 3, maxDelayMs: 1000 }), {}, () => Date.now());
    for (const n of [1, 2, 3]) void batcher.submit(n);
    expect(engine.calls.map((c) => c.items)).toEqual([[1, 2, 3]]);
  });

  it('with maxDelayMs 0 runs each input as soon as the engine is free', () => {
    const engine = fakeEngine();
    const batcher = new Batcher(engine.runBatch, options({ maxDelayMs: 0 }), {}, () => Date.now());
    void batcher.submit(1);
    expect(engine.calls.map((c) => c.items)).toEqual([[1]]);
  });

  it('never puts more than maxBatchSize inputs in one call, and keeps arrival order across batches', async () => {
    const engine = fakeEngine();
    const batcher = new Batcher(engine.runBatch, options({ maxBatchSize: 4, maxDelayMs: 1 }), {}, () => Date.now());
    const results = Array.from({ length: 10 }, (_, n) => track(batcher.submit(n)));
    // The engine is busy with the first batch; the other six wait.
    expect(engine.calls.map((c) => c.items)).toEqual([[0, 1, 2, 3]]);
    engine.calls[0]!.resolve(label([0, 1, 2, 3]));
    await flush();
    expect(engine.calls[1]!.items).toEqual([4, 5, 6, 7]);
    engine.calls[1]!.resolve(label([4, 5, 6, 7]));
    await flush();
    // Two left: fewer than a batch; they run once the oldest has waited the delay.
    expect(engine.calls).toHaveLength(2);
    vi.advanceTimersByTime(1);
    expect(engine.calls[2]!.items).toEqual([8, 9]);
    engine.calls[2]!.resolve(label([8, 9]));
    await flush();
    expect(results.map((r) => r.value)).toEqual(label([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]));
    for (const call of engine.calls) expect(call.items.length).toBeLessThanOrEqual(4);
  });

  it('gives each caller its own results when a request has several inputs', async () => {
    const engine = fakeEngine();
    const batcher = new Batcher(engine.runBatch, options({ maxBatchSize: 8, maxDelayMs: 1 }), {}, () => Date.now());
    const a = track(batcher.submitAll([1, 2, 3]));
    const b = track(batcher.submit(4));
    const c = track(batcher.submitAll([5, 6]));
    vi.advanceTimersByTime(1);
    expect(engine.calls.map((call) => call.items)).toEqual([[1, 2, 3, 4, 5, 6]]);
    engine.calls[0]!.resolve(label([1, 2, 3, 4, 5, 6]));
    await flush();
    expect(a.value).toEqual(['r1', 'r2', 'r3']);
    expect(b.value).toBe('r4');
    expect(c.value).toEqual(['r5', 'r6']);
  });

  it('a request larger than a batch is split across batches and answered once, in input order', async () => {
    const engine = fakeEngine();
    const batcher = new Batcher(engine.runBatch, options({ maxBatchSize: 2, maxDelayMs: 1 }), {}, () => Date.now());
    const a = track(batcher.submitAll([1, 2, 3]));
    expect(engine.calls.map((call) => call.items)).toEqual([[1, 2]]);
    engine.calls[0]!.resolve(label([1, 2]));
    await flush();
    expect(a.status).toBe('pending');
    vi.advanceTimersByTime(1);
    expect(engine.calls[1]!.items).toEqual([3]);
    engine.calls[1]!.resolve(label([3]));
    await flush();
    expect(a.value).toEqual(['r1', 'r2', 'r3']);
  });

  it('an empty request resolves at once without an engine call', async () => {
    const engine = fakeEngine();
    const batcher = new Batcher(engine.runBatch, options(), {}, () => Date.now());
    await expect(batcher.submitAll([])).resolves.toEqual([]);
    expect(engine.calls).toHaveLength(0);
  });
});

describe('concurrency across sessions', () => {
  it('runs up to maxConcurrentBatches batches at once and starts the next when one finishes', async () => {
    const engine = fakeEngine();
    const obs = observed();
    const batcher = new Batcher(engine.runBatch, options({ maxBatchSize: 2, maxDelayMs: 1, maxConcurrentBatches: 2 }), obs.observer, () => Date.now());
    const results = [1, 2, 3, 4, 5, 6].map((n) => track(batcher.submit(n)));
    expect(engine.calls.map((c) => c.items)).toEqual([[1, 2], [3, 4]]);
    expect(batcher.inFlight).toBe(2);
    expect(batcher.queued).toBe(2);
    // The second batch finishes first: its callers are answered, the third batch starts.
    engine.calls[1]!.resolve(label([3, 4]));
    await flush();
    expect(results.map((r) => r.status)).toEqual(['pending', 'pending', 'resolved', 'resolved', 'pending', 'pending']);
    expect(engine.calls[2]!.items).toEqual([5, 6]);
    expect(batcher.inFlight).toBe(2);
    engine.calls[0]!.resolve(label([1, 2]));
    engine.calls[2]!.resolve(label([5, 6]));
    await flush();
    expect(results.map((r) => r.value)).toEqual(label([1, 2, 3, 4, 5, 6]));
    expect(obs.batches).toEqual([2, 2, 2]);
    expect(obs.occupancy.at(-1)).toEqual([0, 0]);
  });
});

describe('rounds (an engine on the server thread)', () => {
  it('dispatches every queued input at once when nothing runs, and the next round only when the last has finished', async () => {
    const engine = fakeEngine();
    const obs = observed();
    const batcher = new Batcher(engine.runBatch, options({ maxBatchSize: 2, maxDelayMs: 0, rounds: true }), obs.observer, () => Date.now());
    // Nothing runs: the first input is a round of its own.
    const first = track(batcher.submit(1));
    expect(engine.calls.map((c) => c.items)).toEqual([[1]]);
    // Arrivals while it runs wait for the next round, whatever their number.
    const rest = [2, 3, 4, 5, 6].map((n) => track(batcher.submit(n)));
    expect(engine.calls).toHaveLength(1);
    expect(batcher.queued).toBe(5);
    engine.calls[0]!.resolve(label([1]));
    await flush();
    expect(first).toMatchObject({ status: 'resolved', value: 'r1' });
    // One round: all five, in batches of at most 2, dispatched together.
    expect(engine.calls.slice(1).map((c) => c.items)).toEqual([[2, 3], [4, 5], [6]]);
    expect(batcher.inFlight).toBe(3);
    const late = track(batcher.submit(7));
    engine.calls[1]!.resolve(label([2, 3]));
    engine.calls[2]!.resolve(label([4, 5]));
    await flush();
    // The round is not over while its last batch runs.
    expect(engine.calls).toHaveLength(4);
    engine.calls[3]!.resolve(label([6]));
    await flush();
    expect(engine.calls[4]!.items).toEqual([7]);
    engine.calls[4]!.resolve(label([7]));
    await flush();
    expect([...rest, late].map((r) => r.value)).toEqual(label([2, 3, 4, 5, 6, 7]));
    expect(obs.batches).toEqual([1, 2, 2, 1, 1]);
  });

  it('a queued request whose deadline passed while the engine was busy is dropped when the batch ends, before its timer fires', async () => {
    let now = 0;
    const engine = fakeEngine();
    const shed: string[] = [];
    const batcher = new Batcher(engine.runBatch, options({ maxBatchSize: 2, maxDelayMs: 0, rounds: true }), { shed: (r) => shed.push(r) }, {
      now: () => now,
      // Timers that never fire: the drop must not depend on them.
      setTimer: () => 0 as unknown as ReturnType<typeof setTimeout>,
      clearTimer: () => {},
    });
    const running = track(batcher.submit(1));
    const patient = track(batcher.submit(2, 1000));
    const hasty = track(batcher.submit(3, 0));
    now = 5;
    engine.calls[0]!.resolve(label([1]));
    await flush();
    expect(running).toMatchObject({ status: 'resolved' });
    expect(hasty.status).toBe('rejected');
    expect(hasty.error).toBeInstanceOf(DeadlineExceeded);
    expect(shed).toEqual(['deadline']);
    // The next round holds only the request still in time.
    expect(engine.calls.slice(1).map((c) => c.items)).toEqual([[2]]);
    engine.calls[1]!.resolve(label([2]));
    await flush();
    expect(patient).toMatchObject({ status: 'resolved', value: 'r2' });
  });

  it('without rounds the same arrivals run one batch at a time (maxConcurrentBatches 1)', async () => {
    const engine = fakeEngine();
    const batcher = new Batcher(engine.runBatch, options({ maxBatchSize: 2, maxDelayMs: 0 }), {}, () => Date.now());
    track(batcher.submit(1));
    [2, 3, 4, 5, 6].forEach((n) => track(batcher.submit(n)));
    engine.calls[0]!.resolve(label([1]));
    await flush();
    expect(engine.calls.slice(1).map((c) => c.items)).toEqual([[2, 3]]);
  });

  it('waits maxDelayMs for company before the first batch of a round only', async () => {
    let now = 0;
    const timers: { fn: () => void; ms: number }[] = [];
    const engine = fakeEngine();
    const batcher = new Batcher(engine.runBatch, options({ maxBatchSize: 2, maxDelayMs: 5, rounds: true }), {}, {
      now: () => now,
      setTimer: (fn, ms) => (timers.push({ fn, ms }), 0 as unknown as ReturnType<typeof setTimeout>),
      clearTimer: () => {},
    });
    [1, 2].forEach((n) => track(batcher.submit(n)));
    // A full batch goes at once; what arrives while it runs waits for the next round.
    expect(engine.calls.map((c) => c.items)).toEqual([[1, 2]]);
    [3, 4, 5].forEach((n) => track(batcher.submit(n)));
    engine.calls[0]!.resolve(label([1, 2]));
    await flush();
    // The round's first batch is full, so the partial one after it goes too, without a wait.
    expect(engine.calls.slice(1).map((c) => c.items)).toEqual([[3, 4], [5]]);
    engine.calls[1]!.resolve(label([3, 4]));
    engine.calls[2]!.resolve(label([5]));
    await flush();
    // A round that would start with a partial batch waits maxDelayMs for company.
    track(batcher.submit(6));
    expect(engine.calls).toHaveLength(3);
    expect(timers.at(-1)?.ms).toBe(5);
    now = 5;
    timers.at(-1)!.fn();
    expect(engine.calls[3]!.items).toEqual([6]);
  });
});

describe('failures', () => {
  it('a failing batch rejects only the requests that had inputs in it', async () => {
    const engine = fakeEngine();
    const batcher = new Batcher(engine.runBatch, options({ maxBatchSize: 2, maxDelayMs: 1, maxConcurrentBatches: 2 }), {}, () => Date.now());
    const [a, b, c, d] = [1, 2, 3, 4].map((n) => track(batcher.submit(n)));
    engine.calls[0]!.reject(new Error('engine crashed'));
    engine.calls[1]!.resolve(label([3, 4]));
    await flush();
    expect(a).toMatchObject({ status: 'rejected' });
    expect((a!.error as Error).message).toBe('engine crashed');
    expect(b).toMatchObject({ status: 'rejected' });
    expect(c).toMatchObject({ status: 'resolved', value: 'r3' });
    expect(d).toMatchObject({ status: 'resolved', value: 'r4' });
  });

  it('a batch with the wrong number of results rejects its callers instead of mixing answers up', async () => {
    const engine = fakeEngine();
    const batcher = new Batcher(engine.runBatch, options({ maxBatchSize: 2 }), {}, () => Date.now());
    const [a, b] = [1, 2].map((n) => track(batcher.submit(n)));
    engine.calls[0]!.resolve(['only one']);
    await flush();
    expect(a!.status).toBe('rejected');
    expect(b!.status).toBe('rejected');
    expect((a!.error as Error).message).toMatch(/1 results for a batch of 2/);
  });

  it('an engine that throws synchronously rejects the batch and the batcher keeps serving', async () => {
    let calls = 0;
    const batcher = new Batcher<number, string>(
      (items) => {
        calls++;
        if (calls === 1) throw new Error('sync failure');
        return Promise.resolve(label(items));
      },
      options({ maxBatchSize: 1, maxDelayMs: 0 }),
      {},
      () => Date.now(),
    );
    await expect(batcher.submit(1)).rejects.toThrow('sync failure');
    await expect(batcher.submit(2)).resolves.toBe('r2');
  });

  it('when one batch of a split request fails, its inputs still queued are dropped, not run', async () => {
    const engine = fakeEngine();
    const batcher = new Batcher(engine.runBatch, options({ maxBatchSize: 2, maxDelayMs: 0 }), {}, () => Date.now());
    const a = track(batcher.submitAll([1, 2, 3]));
    const other = track(batcher.submit(9));
    engine.calls[0]!.reject(new Error('boom'));
    await flush();
    expect(a.status).toBe('rejected');
    // Input 3 of the failed request is gone; the other request's input runs alone.
    expect(engine.calls[1]!.items).toEqual([9]);
    engine.calls[1]!.resolve(['r9']);
    await flush();
    expect(other.value).toBe('r9');
  });
});

describe('admission control', () => {
  it('refuses past maxQueue at once with Overloaded and Retry-After, counting each shed request', async () => {
    const engine = fakeEngine();
    const obs = observed();
    const batcher = new Batcher(engine.runBatch, options({ maxBatchSize: 1, maxDelayMs: 0, maxQueue: 2 }), obs.observer, () => Date.now());
    const running = track(batcher.submit(1)); // taken by the engine: not queued
    const queued = [2, 3].map((n) => track(batcher.submit(n)));
    expect(batcher.queued).toBe(2);
    const refused = [4, 5].map((n) => track(batcher.submit(n)));
    await flush();
    for (const r of refused) {
      expect(r.status).toBe('rejected');
      expect(r.error).toBeInstanceOf(Overloaded);
      expect((r.error as Overloaded).status).toBe(503);
      expect((r.error as Overloaded).details.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    }
    expect(obs.shed).toEqual(['queue_full', 'queue_full']);
    // Refused inputs were never queued; the admitted ones are all served.
    engine.calls[0]!.resolve(['r1']);
    await flush();
    engine.calls[1]!.resolve(['r2']);
    await flush();
    engine.calls[2]!.resolve(['r3']);
    await flush();
    expect(engine.calls.map((c) => c.items)).toEqual([[1], [2], [3]]);
    expect([running, ...queued].map((r) => r.value)).toEqual(['r1', 'r2', 'r3']);
  });

  it('admits a multi-input request whole or not at all, and counts it as one shed', async () => {
    const engine = fakeEngine();
    const obs = observed();
    const batcher = new Batcher(engine.runBatch, options({ maxBatchSize: 1, maxDelayMs: 0, maxQueue: 3 }), obs.observer, () => Date.now());
    void batcher.submit(0);
    void batcher.submitAll([1, 2]);
    const tooBig = track(batcher.submitAll([3, 4]));
    await flush();
    expect(tooBig.status).toBe('rejected');
    expect(tooBig.error).toBeInstanceOf(Overloaded);
    expect(batcher.queued).toBe(2);
    expect(obs.shed).toEqual(['queue_full']);
    const never = track(batcher.submitAll([1, 2, 3, 4]));
    await flush();
    expect((never.error as Error).message).toMatch(/at most 3/);
  });

  it('maxQueue 0 refuses everything that cannot start at once', async () => {
    const engine = fakeEngine();
    const batcher = new Batcher(engine.runBatch, options({ maxQueue: 0 }), {}, () => Date.now());
    await expect(batcher.submit(1)).rejects.toBeInstanceOf(Overloaded);
  });

  it('Retry-After grows with the backlog, from measured batch times', async () => {
    const engine = fakeEngine();
    const batcher = new Batcher(engine.runBatch, options({ maxBatchSize: 1, maxDelayMs: 0, maxQueue: 10 }), {}, () => Date.now());
    void batcher.submit(0);
    vi.advanceTimersByTime(2000); // the first batch takes 2 s
    engine.calls[0]!.resolve(['r0']);
    await flush();
    for (let n = 1; n <= 11; n++) void batcher.submit(n); // 1 runs, 10 wait: the queue is full
    const refused = track(batcher.submit(99));
    await flush();
    // 10 queued batches of ~2 s each: far more than the 1 s floor, capped at 30 s.
    const retry = (refused.error as Overloaded).details.retryAfterSeconds!;
    expect(retry).toBeGreaterThan(1);
    expect(retry).toBeLessThanOrEqual(30);
  });
});

describe('deadlines', () => {
  it('drops a queued input whose deadline passes, answering 504 at the deadline, and never runs it', async () => {
    const engine = fakeEngine();
    const obs = observed();
    const batcher = new Batcher(engine.runBatch, options({ maxBatchSize: 1, maxDelayMs: 0 }), obs.observer, () => Date.now());
    const first = track(batcher.submit(1)); // runs, and keeps the engine busy
    const late = track(batcher.submit(2, 50));
    const patient = track(batcher.submit(3));
    vi.advanceTimersByTime(49);
    await flush();
    expect(late.status).toBe('pending');
    vi.advanceTimersByTime(1);
    await flush();
    expect(late.status).toBe('rejected');
    expect(late.error).toBeInstanceOf(DeadlineExceeded);
    expect((late.error as DeadlineExceeded).status).toBe(504);
    expect(obs.shed).toEqual(['deadline']);
    expect(batcher.queued).toBe(1);
    engine.calls[0]!.resolve(['r1']);
    await flush();
    expect(engine.calls.map((c) => c.items)).toEqual([[1], [3]]);
    engine.calls[1]!.resolve(['r3']);
    await flush();
    expect(first.value).toBe('r1');
    expect(patient.value).toBe('r3');
  });

  it('a deadline does not cancel an input whose batch already started', async () => {
    const engine = fakeEngine();
    const obs = observed();
    const batcher = new Batcher(engine.runBatch, options({ maxBatchSize: 1, maxDelayMs: 0 }), obs.observer, () => Date.now());
    const a = track(batcher.submit(1, 10));
    vi.advanceTimersByTime(100);
    engine.calls[0]!.resolve(['r1']);
    await flush();
    expect(a.value).toBe('r1');
    expect(obs.shed).toEqual([]);
  });

  it('timeout 0 runs only if an engine is free now; behind a busy engine it is 504', async () => {
    const engine = fakeEngine();
    const obs = observed();
    const batcher = new Batcher(engine.runBatch, options({ maxBatchSize: 4, maxDelayMs: 5 }), obs.observer, () => Date.now());
    const now = track(batcher.submit(1, 0));
    // It did not wait for the 5 ms batching window: its deadline would have passed.
    expect(engine.calls.map((c) => c.items)).toEqual([[1]]);
    const behind = track(batcher.submit(2, 0));
    vi.advanceTimersByTime(0);
    await flush();
    expect(behind.error).toBeInstanceOf(DeadlineExceeded);
    expect(obs.shed).toEqual(['deadline']);
    engine.calls[0]!.resolve(['r1']);
    await flush();
    expect(now.value).toBe('r1');
    expect(engine.calls).toHaveLength(1);
  });

  it('a multi-input request past its deadline is rejected once and all its queued inputs are dropped', async () => {
    const engine = fakeEngine();
    const obs = observed();
    const batcher = new Batcher(engine.runBatch, options({ maxBatchSize: 2, maxDelayMs: 0 }), obs.observer, () => Date.now());
    void batcher.submit(0);
    const req = track(batcher.submitAll([1, 2, 3], 10));
    vi.advanceTimersByTime(10);
    await flush();
    expect(req.error).toBeInstanceOf(DeadlineExceeded);
    expect(obs.shed).toEqual(['deadline']);
    expect(batcher.queued).toBe(0);
  });
});

describe('bucketing by cost', () => {
  it('fills a batch with the oldest input and the inputs closest to it in cost', async () => {
    const engine = fakeEngine<number, number>();
    const batcher = new Batcher<number, number>(
      engine.runBatch,
      options({ maxBatchSize: 3, maxDelayMs: 0, bucketing: true }),
      {},
      { now: () => Date.now(), cost: (n) => n },
    );
    void batcher.submit(1000); // occupies the engine
    const costs = [10, 50, 11, 52, 12, 49];
    const results = costs.map((n) => track(batcher.submit(n)));
    engine.calls[0]!.resolve([1000]);
    await flush();
    // Oldest waiting is 10: it goes with 11 and 12; 50, 52, 49 wait for the next batch.
    expect(engine.calls[1]!.items).toEqual([10, 11, 12]);
    engine.calls[1]!.resolve([10, 11, 12]);
    await flush();
    expect(engine.calls[2]!.items).toEqual([50, 52, 49]);
    engine.calls[2]!.resolve([50, 52, 49]);
    await flush();
    expect(results.map((r) => r.value)).toEqual(costs);
  });

  it('without bucketing, batches are strictly oldest-first', async () => {
    const engine = fakeEngine<number, number>();
    const batcher = new Batcher<number, number>(engine.runBatch, options({ maxBatchSize: 3, maxDelayMs: 0 }), {}, { now: () => Date.now(), cost: (n) => n });
    void batcher.submit(1000);
    for (const n of [10, 50, 11, 52]) void batcher.submit(n);
    engine.calls[0]!.resolve([1000]);
    await flush();
    expect(engine.calls[1]!.items).toEqual([10, 50, 11]);
  });
});

describe('idle and observation', () => {
  it('idle() resolves only when nothing is queued or running', async () => {
    const engine = fakeEngine();
    const batcher = new Batcher(engine.runBatch, options({ maxBatchSize: 1, maxDelayMs: 0 }), {}, () => Date.now());
    await batcher.idle();
    void batcher.submit(1);
    void batcher.submit(2);
    const idle = track(batcher.idle());
    engine.calls[0]!.resolve(['r1']);
    await flush();
    expect(idle.status).toBe('pending');
    engine.calls[1]!.resolve(['r2']);
    await flush();
    expect(idle.status).toBe('resolved');
  });

  it('idle() resolves after the last queued input is dropped by its deadline', async () => {
    const engine = fakeEngine();
    const batcher = new Batcher(engine.runBatch, options({ maxBatchSize: 1, maxDelayMs: 0 }), {}, () => Date.now());
    void batcher.submit(1);
    void batcher.submit(2, 5).catch(() => undefined);
    const idle = track(batcher.idle());
    vi.advanceTimersByTime(5);
    engine.calls[0]!.resolve(['r1']);
    await flush();
    expect(idle.status).toBe('resolved');
    expect(engine.calls).toHaveLength(1);
  });

  it('reports queue waits per input, batch sizes, and occupancy', async () => {
    const engine = fakeEngine();
    const obs = observed();
    const batcher = new Batcher(engine.runBatch, options({ maxBatchSize: 4, maxDelayMs: 5 }), obs.observer, () => Date.now());
    void batcher.submit(1);
    vi.advanceTimersByTime(2);
    void batcher.submit(2);
    expect(obs.occupancy.at(-1)).toEqual([2, 0]);
    vi.advanceTimersByTime(3);
    expect(obs.occupancy.at(-1)).toEqual([0, 1]);
    expect(obs.waits).toEqual([0.005, 0.003]);
    engine.calls[0]!.resolve(['r1', 'r2']);
    await flush();
    expect(obs.batches).toEqual([2]);
    expect(obs.occupancy.at(-1)).toEqual([0, 0]);
  });

  it('rejects nonsensical options', () => {
    const engine = fakeEngine();
    expect(() => new Batcher(engine.runBatch, options({ maxBatchSize: 0 }))).toThrow(RangeError);
    expect(() => new Batcher(engine.runBatch, options({ maxConcurrentBatches: 0 }))).toThrow(RangeError);
  });
});

describe('batch marks on a call timeline', () => {
  it('writes the first batch start and the last batch end of a request split over batches, with the clock that times the batch', async () => {
    let clock = 100;
    const engine = fakeEngine();
    const batcher = new Batcher(engine.runBatch, options({ maxBatchSize: 2, maxDelayMs: 0 }), {}, { now: () => clock });
    const marks = { batchStart: undefined as number | undefined, batchEnd: undefined as number | undefined };
    const other = { batchStart: undefined as number | undefined, batchEnd: undefined as number | undefined };
    const a = track(batcher.submitAll([1, 2, 3], undefined, marks));
    expect(engine.calls).toHaveLength(1);
    expect(marks).toEqual({ batchStart: 100, batchEnd: undefined });
    clock = 110;
    engine.calls[0]!.resolve(label([1, 2]));
    await flush();
    expect(marks.batchEnd).toBe(110);
    // The second batch (input 3 alone) started at 110; a later request waits for the engine.
    expect(engine.calls[1]!.items).toEqual([3]);
    const b = track(batcher.submitAll([4], undefined, other));
    clock = 130;
    engine.calls[1]!.resolve(label([3]));
    await flush();
    expect(marks).toEqual({ batchStart: 100, batchEnd: 130 });
    expect(a.status).toBe('resolved');
    // Its own batch started when the engine came free.
    expect(other).toEqual({ batchStart: 130, batchEnd: undefined });
    expect(b.status).toBe('pending');
  });

  it('stops writing marks once the request failed (its timeline may have moved on to a fallback)', async () => {
    let clock = 0;
    const engine = fakeEngine();
    const batcher = new Batcher(engine.runBatch, options({ maxBatchSize: 2, maxDelayMs: 0, maxConcurrentBatches: 2 }), {}, { now: () => clock });
    const marks = { batchStart: undefined as number | undefined, batchEnd: undefined as number | undefined };
    const request = track(batcher.submitAll([1, 2, 3], undefined, marks));
    expect(engine.calls.map((c) => c.items)).toEqual([[1, 2], [3]]);
    clock = 20;
    engine.calls[1]!.reject(new Error('engine failed'));
    await flush();
    expect(request.status).toBe('rejected');
    expect(marks).toEqual({ batchStart: 0, batchEnd: 20 });
    clock = 50;
    engine.calls[0]!.resolve(label([1, 2]));
    await flush();
    expect(marks).toEqual({ batchStart: 0, batchEnd: 20 });
  });

  it('leaves the marks empty for a request refused at admission', async () => {
    const engine = fakeEngine();
    const batcher = new Batcher(engine.runBatch, options({ maxQueue: 1, maxDelayMs: 50 }), {});
    const marks = { batchStart: undefined as number | undefined, batchEnd: undefined as number | undefined };
    await expect(batcher.submitAll([1, 2], undefined, marks)).rejects.toBeInstanceOf(Overloaded);
    expect(marks).toEqual({ batchStart: undefined, batchEnd: undefined });
  });
});
