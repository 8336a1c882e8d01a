import { Counter, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { boundCounter, boundHistogram } from '../../src/observability/bound-metrics.js';
import { LATENCY_BUCKETS } from '../../src/observability/metrics.js';

/** Two registries with the same metric, one updated through prom-client's API, one through bound series. */
function pair() {
  const make = () => {
    const registry = new Registry();
    const histogram = new Histogram({ name: 'latency_seconds', help: 'h', labelNames: ['model', 'stage'] as const, buckets: LATENCY_BUCKETS, registers: [registry] });
    const counter = new Counter({ name: 'predictions_total', help: 'c', labelNames: ['model', 'label'] as const, registers: [registry] });
    const plain = new Counter({ name: 'requests_total', help: 'c', registers: [registry] });
    return { registry, histogram, counter, plain };
  };
  return { expected: make(), actual: make() };
}

// Seeded values around and between the bucket bounds, including the bounds themselves and 0.
let seed = 7;
const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
const sample = () => (random() < 0.2 ? LATENCY_BUCKETS[Math.floor(random() * LATENCY_BUCKETS.length)]! : random() < 0.1 ? 0 : random() ** 3 * 20);

describe('bound metric series', () => {
  it('render exactly what prom-client renders for the same observations', async () => {
    const { expected, actual } = pair();
    const queue = boundHistogram(actual.histogram, { model: 'sentiment', stage: 'queue' });
    const infer = boundHistogram(actual.histogram, { model: 'sentiment', stage: 'infer' });
    const positive = boundCounter(actual.counter, { model: 'sentiment', label: 'POSITIVE' });
    const requests = boundCounter(actual.plain);
    for (let i = 0; i < 5000; i++) {
      const value = sample();
      const stage = i % 3 === 0 ? 'infer' : 'queue';
      expected.histogram.observe({ model: 'sentiment', stage }, value);
      (stage === 'infer' ? infer : queue)(value);
      expected.counter.inc({ model: 'sentiment', label: 'POSITIVE' }, i % 4);
      positive(i % 4);
      expected.plain.inc();
      requests();
    }
    expect(await actual.registry.metrics()).toBe(await expected.registry.metrics());
  });

  it('add to a series that already holds observations, and survive reset() and remove()', async () => {
    const { expected, actual } = pair();
    const labels = { model: 'spam', stage: 'queue' };
    for (const m of [expected, actual]) m.histogram.observe({ ...labels }, 0.003);
    const observe = boundHistogram(actual.histogram, labels);
    const record = (value: number) => {
      expected.histogram.observe(labels, value);
      observe(value);
    };
    record(0.02);
    record(7);
    for (const m of [expected, actual]) m.histogram.reset();
    record(0.0004);
    for (const m of [expected, actual]) m.histogram.remove(labels);
    record(0.3);
    record(11);
    expect(await actual.registry.metrics()).toBe(await expected.registry.metrics());
    expect(await actual.registry.metrics()).toContain('latency_seconds_count{model="spam",stage="queue"} 2');
  });

  it('refuse what prom-client refuses', () => {
    const { actual } = pair();
    const observe = boundHistogram(actual.histogram, { model: 'm', stage: 'queue' });
    observe(0.1);
    expect(() => observe(Number.NaN)).toThrow(/not a valid number/);
    const inc = boundCounter(actual.counter, { model: 'm', label: 'x' });
    inc();
    expect(() => inc(-1)).toThrow(/not possible to decrease/);
    expect(() => boundHistogram(actual.histogram, { model: 'm', nope: 'x' } as never)(1)).toThrow(/not included/);
  });

  it("use prom-client's API when its internals are not the expected ones", () => {
    const calls: unknown[][] = [];
    const lookalike = { observe: (...args: unknown[]) => calls.push(args) } as unknown as Histogram<'model'>;
    const observe = boundHistogram(lookalike, { model: 'm' });
    observe(1);
    observe(2);
    expect(calls).toEqual([
      [{ model: 'm' }, 1],
      [{ model: 'm' }, 2],
    ]);
  });
});
