import type { Counter, Histogram } from 'prom-client';

/**
 * One series of a prom-client histogram or counter, updated without prom-client's per-call
 * work. prom-client validates and hashes the label object and converts the bucket bound to a
 * property name on every observation: ~1.3-2 µs each (measured), ten of them per request to a
 * small model. A bound series finds its entry once and then adds to it (~0.1 µs).
 *
 * It writes the entry prom-client itself keeps and renders (`hashMap[key]` holding
 * `{ labels, bucketValues, sum, count }` or `{ labels, value }`), so names, labels and the
 * exposition stay prom-client's. That layout is prom-client's, not its API: binding checks it
 * and falls back to the public `observe`/`inc` when it is not what this code expects, and
 * test/unit/bound-metrics.test.ts renders both ways side by side. When prom-client drops or
 * replaces the entry (`reset()`, `remove()`), the next update goes through the public API
 * and finds the new one.
 */

type Labels = Record<string, string | number>;

interface HistogramEntry {
  labels: Labels;
  bucketValues: Record<string, number>;
  sum: number;
  count: number;
}

interface CounterEntry {
  labels: Labels;
  value: number;
}

/** The parts of a prom-client metric this module reads; absent when its internals changed. */
interface Internals<Entry> {
  hashMap: Record<string, Entry>;
  upperBounds?: number[];
  enableExemplars?: boolean;
}

function internalsOf<Entry>(metric: object): Internals<Entry> | undefined {
  const internals = metric as Partial<Internals<Entry>>;
  if (typeof internals.hashMap !== 'object' || internals.hashMap === null || internals.enableExemplars) return undefined;
  return internals as Internals<Entry>;
}

const sameLabels = (a: Labels, b: Labels): boolean => {
  const keys = Object.keys(a).filter((k) => a[k] !== undefined);
  return keys.length === Object.keys(b).filter((k) => b[k] !== undefined).length && keys.every((k) => String(a[k]) === String(b[k]));
};

/** The key of the entry prom-client keeps for these label values, if there is one. */
function keyOf<Entry extends { labels: Labels }>(hashMap: Record<string, Entry>, labels: Labels): string | undefined {
  for (const key in hashMap) if (sameLabels(hashMap[key]!.labels, labels)) return key;
  return undefined;
}

/**
 * The update of one series: after the first update (through the public API, which creates the
 * entry) it adds to prom-client's entry directly; when the entry cannot be found or does not
 * look as expected, it keeps using the public API.
 */
function bind<Entry extends { labels: Labels }>(
  internals: Internals<Entry> | undefined,
  labels: Labels,
  usable: (entry: Entry) => boolean,
  viaPublicApi: (amount: number) => void,
  add: (entry: Entry, amount: number) => void,
  valid: (amount: number) => boolean,
): (amount: number) => void {
  if (!internals) return viaPublicApi;
  let key: string | undefined;
  let bound = true;
  return (amount) => {
    const entry = key === undefined ? undefined : internals.hashMap[key];
    if (entry !== undefined && valid(amount)) return add(entry, amount);
    // First update, prom-client dropped the series (reset, remove), or an amount it must refuse.
    viaPublicApi(amount);
    if (!bound) return;
    key = keyOf(internals.hashMap, labels);
    if (key === undefined || !usable(internals.hashMap[key]!)) {
      key = undefined;
      bound = false;
    }
  };
}

/** `observe(value)` for one label set of a histogram. */
export function boundHistogram<T extends string>(histogram: Histogram<T>, labels: Partial<Record<T, string | number>> = {}): (value: number) => void {
  const internals = internalsOf<HistogramEntry>(histogram);
  const upperBounds = internals?.upperBounds;
  const bounds = (upperBounds ?? []).map(String);
  return bind<HistogramEntry>(
    Array.isArray(upperBounds) ? internals : undefined,
    labels as Labels,
    (entry) => typeof entry.sum === 'number' && typeof entry.count === 'number' && typeof entry.bucketValues === 'object' && bounds.every((b) => typeof entry.bucketValues[b] === 'number'),
    (value) => histogram.observe(labels, value),
    (entry, value) => {
      entry.sum += value;
      entry.count += 1;
      // As prom-client's findBound: the first bucket whose bound holds the value; +Inf is the count.
      for (let i = 0; i < upperBounds!.length; i++) {
        if (value <= upperBounds![i]!) {
          entry.bucketValues[bounds[i]!]! += 1;
          return;
        }
      }
    },
    Number.isFinite,
  );
}

/** `inc(by = 1)` for one label set of a counter. */
export function boundCounter<T extends string>(counter: Counter<T>, labels: Partial<Record<T, string | number>> = {}): (by?: number) => void {
  const inc = bind<CounterEntry>(
    internalsOf<CounterEntry>(counter),
    labels as Labels,
    (entry) => typeof entry.value === 'number',
    (by) => counter.inc(labels, by),
    (entry, by) => {
      entry.value += by;
    },
    (by) => by >= 0 && Number.isFinite(by),
  );
  return (by = 1) => inc(by);
}
