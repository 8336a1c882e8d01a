import { Gauge, type Registry } from 'prom-client';

/**
 * Data and prediction drift by the population stability index (PSI), against the reference
 * histograms the training code wrote into each model spec (`reference.features.<name>` and
 * `reference.predictions`).
 *
 * Per model version, a sliding window of the last `windowSize` inputs (default 1000) is kept
 * as bin indices over the reference's own edges; PSI is computed when Prometheus scrapes
 * (`collect()`), and only once the window holds `minCount` inputs (default 100), so a handful
 * of requests after a restart cannot raise an alert.
 *
 *   PSI = sum over bins of (cur - ref) * ln(cur / ref)
 *
 * with both proportions floored at EPSILON = 1e-4 (an empty bin would make ln(0) infinite), the
 * same floor the training code uses. Binning follows the training histograms: bin i is
 * [edges[i], edges[i+1]), the last bin is closed, and values outside the edges fall into the
 * first or last bin. Reading: < 0.1 no real change, 0.1-0.2 moderate, >= 0.2 (DRIFT_THRESHOLD)
 * act: look at what changed.
 */

export const EPSILON = 1e-4;
export const DRIFT_THRESHOLD = 0.2;
export const DEFAULT_DRIFT_WINDOW = 1000;
export const DEFAULT_DRIFT_MIN_COUNT = 100;

export interface HistogramReference {
  edges: number[];
  proportions: number[];
}

/** PSI between reference proportions and observed counts over the same bins. */
export function psi(reference: number[], counts: number[], epsilon = EPSILON): number {
  const total = counts.reduce((a, b) => a + b, 0);
  if (total === 0) return 0;
  let sum = 0;
  for (let i = 0; i < reference.length; i++) {
    const ref = Math.max(reference[i] ?? 0, epsilon);
    const cur = Math.max((counts[i] ?? 0) / total, epsilon);
    sum += (cur - ref) * Math.log(cur / ref);
  }
  return sum;
}

/** Bin of a value over histogram edges, as the training code bins (outside values: first/last bin). */
export function binOf(value: number, edges: number[]): number {
  const bins = edges.length - 1;
  if (!(value >= edges[1]!)) return 0;
  if (value >= edges[bins - 1]!) return bins - 1;
  let lo = 0;
  let hi = bins - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (value >= edges[mid]!) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** A reference histogram from a spec, checked; undefined when it is not usable. */
export function histogramReference(raw: unknown): HistogramReference | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const { edges, proportions, counts } = raw as { edges?: unknown; proportions?: unknown; counts?: unknown };
  const numbers = (v: unknown): v is number[] => Array.isArray(v) && v.every((x) => typeof x === 'number' && Number.isFinite(x));
  if (!numbers(edges) || edges.length < 2) return undefined;
  for (let i = 1; i < edges.length; i++) if (!(edges[i]! > edges[i - 1]!)) return undefined;
  const shares = numbers(counts) && counts.length === edges.length - 1 ? counts : numbers(proportions) && proportions.length === edges.length - 1 ? proportions : undefined;
  if (!shares) return undefined;
  const total = shares.reduce((a, b) => a + b, 0);
  if (!(total > 0)) return undefined;
  return { edges, proportions: shares.map((s) => s / total) };
}

/** The last `size` bin indices, with their counts kept up to date. */
export class BinnedWindow {
  readonly counts: number[];
  private readonly ring: Int32Array;
  private next = 0;
  private filled = 0;

  constructor(bins: number, readonly size: number) {
    this.counts = new Array<number>(bins).fill(0);
    this.ring = new Int32Array(size);
  }

  get count(): number {
    return this.filled;
  }

  push(bin: number): void {
    if (this.filled === this.size) this.counts[this.ring[this.next]!]!--;
    else this.filled++;
    this.ring[this.next] = bin;
    this.counts[bin]!++;
    this.next = (this.next + 1) % this.size;
  }
}

/** One monitored quantity: numeric (binned by edges) or categorical (one bin per reference category + other). */
export class FeatureDrift {
  private readonly window: BinnedWindow;

  private constructor(
    readonly name: string,
    readonly reference: number[],
    private readonly bin: (value: unknown) => number | undefined,
    windowSize: number,
  ) {
    this.window = new BinnedWindow(reference.length, windowSize);
  }

  static numeric(name: string, ref: HistogramReference, windowSize: number): FeatureDrift {
    return new FeatureDrift(name, ref.proportions, (v) => (typeof v === 'number' && Number.isFinite(v) ? binOf(v, ref.edges) : undefined), windowSize);
  }

  static categorical(name: string, shares: Record<string, number>, windowSize: number): FeatureDrift | undefined {
    const categories = Object.keys(shares).filter((k) => typeof shares[k] === 'number' && Number.isFinite(shares[k]) && shares[k]! >= 0);
    const total = categories.reduce((a, k) => a + shares[k]!, 0);
    if (categories.length === 0 || !(total > 0)) return undefined;
    const index = new Map(categories.map((c, i) => [c, i]));
    const reference = [...categories.map((c) => shares[c]! / total), 0];
    return new FeatureDrift(name, reference, (v) => (typeof v === 'string' ? (index.get(v) ?? categories.length) : undefined), windowSize);
  }

  /** Bins a finite number (numeric) or a string (categorical); anything else is not counted. */
  add(value: unknown): void {
    const bin = this.bin(value);
    if (bin !== undefined) this.window.push(bin);
  }

  get count(): number {
    return this.window.count;
  }

  get counts(): readonly number[] {
    return this.window.counts;
  }

  psi(): number {
    return psi(this.reference, this.window.counts);
  }
}

/** What drift needs from a model spec. */
export interface DriftSpec {
  name: string;
  version: string;
  reference?: Record<string, unknown>;
}

export interface DriftObservation {
  /** Input features by name; only the reference's own are read (a tabular input's row as given). */
  features?: Readonly<Record<string, unknown>>;
  label?: string;
  score?: number;
  value?: number;
}

/** Every monitored quantity of one model version. */
export class ModelDrift {
  readonly features = new Map<string, FeatureDrift>();
  /** The same, as a list: add() reads each by its own name instead of walking the observation's keys. */
  private readonly featureList: FeatureDrift[];
  private readonly labels: FeatureDrift | undefined;
  private readonly confidence: FeatureDrift | undefined;
  private readonly values: FeatureDrift | undefined;
  private seen = 0;

  constructor(spec: DriftSpec, readonly windowSize = DEFAULT_DRIFT_WINDOW) {
    const reference = spec.reference ?? {};
    const features = reference.features;
    if (typeof features === 'object' && features !== null) {
      for (const [name, raw] of Object.entries(features as Record<string, unknown>)) {
        const ref = histogramReference(raw);
        if (ref) this.features.set(name, FeatureDrift.numeric(name, ref, windowSize));
      }
    }
    this.featureList = [...this.features.values()];
    const predictions = (reference.predictions ?? {}) as Record<string, unknown>;
    if (typeof predictions.labels === 'object' && predictions.labels !== null) {
      this.labels = FeatureDrift.categorical('prediction', predictions.labels as Record<string, number>, windowSize);
    }
    const confidence = histogramReference(predictions.confidence);
    if (confidence) this.confidence = FeatureDrift.numeric('confidence', confidence, windowSize);
    const values = histogramReference(predictions.histogram);
    if (values) this.values = FeatureDrift.numeric('prediction', values, windowSize);
  }

  /** Whether the spec gave anything to compare with. */
  get monitored(): boolean {
    return this.features.size > 0 || this.labels !== undefined || this.confidence !== undefined || this.values !== undefined;
  }

  /** Inputs in the window (the most of any monitored quantity). */
  get count(): number {
    return Math.min(this.seen, this.windowSize);
  }

  add(observation: DriftObservation): void {
    this.seen++;
    const features = observation.features;
    if (features) {
      // Per input, for every input: no entries array, no map lookup (a tabular model has a dozen).
      for (let i = 0; i < this.featureList.length; i++) {
        const feature = this.featureList[i]!;
        const value = features[feature.name];
        if (value !== undefined) feature.add(value);
      }
    }
    if (observation.label !== undefined) this.labels?.add(observation.label);
    if (observation.score !== undefined) this.confidence?.add(observation.score);
    if (observation.value !== undefined) this.values?.add(observation.value);
  }

  /** Every quantity with enough observations, and its PSI. */
  scores(minCount = DEFAULT_DRIFT_MIN_COUNT): { feature: string; psi: number; count: number }[] {
    const all = [...this.features.values(), this.labels, this.confidence, this.values].filter((f): f is FeatureDrift => f !== undefined);
    return all.filter((f) => f.count >= Math.min(minCount, this.windowSize)).map((f) => ({ feature: f.name, psi: f.psi(), count: f.count }));
  }
}

/**
 * `vigil_drift_psi{model,version,feature}` and `vigil_drift_window_size{model,version}`,
 * computed from the windows at scrape time.
 */
export class DriftMetrics {
  private readonly models = new Map<string, { spec: DriftSpec; drift: ModelDrift }>();
  private readonly unmonitored = new Set<string>();

  constructor(
    registry: Registry,
    private readonly options: { windowSize?: number; minCount?: number } = {},
  ) {
    const models = this.models;
    const minCount = options.minCount ?? DEFAULT_DRIFT_MIN_COUNT;
    new Gauge({
      name: 'vigil_drift_psi',
      help: `Population stability index of the last inputs (window per model version) against the training reference, per feature (input features from the spec, "prediction", "confidence"); exported once ${minCount} inputs are in the window. >= ${DRIFT_THRESHOLD}: drift.`,
      labelNames: ['model', 'version', 'feature'] as const,
      registers: [registry],
      collect() {
        this.reset();
        for (const { spec, drift } of models.values()) {
          for (const s of drift.scores(minCount)) this.set({ model: spec.name, version: spec.version, feature: s.feature }, round(s.psi));
        }
      },
    });
    new Gauge({
      name: 'vigil_drift_window_size',
      help: 'Inputs in the drift window of each model version.',
      labelNames: ['model', 'version'] as const,
      registers: [registry],
      collect() {
        this.reset();
        for (const { spec, drift } of models.values()) this.set({ model: spec.name, version: spec.version }, drift.count);
      },
    });
  }

  /** The drift state of a model version, created on first use; undefined when its spec has no reference. */
  track(spec: DriftSpec): ModelDrift | undefined {
    const key = versionKey(spec);
    const known = this.models.get(key);
    if (known) return known.drift;
    if (this.unmonitored.has(key)) return undefined;
    const drift = new ModelDrift(spec, this.options.windowSize ?? DEFAULT_DRIFT_WINDOW);
    if (!drift.monitored) {
      this.unmonitored.add(key);
      return undefined;
    }
    this.models.set(key, { spec: { name: spec.name, version: spec.version }, drift });
    return drift;
  }

  /** Forgets a version (unloaded, or reloaded with a new spec): its series disappear at the next scrape. */
  forget(spec: DriftSpec): void {
    const key = versionKey(spec);
    this.models.delete(key);
    this.unmonitored.delete(key);
  }

  get(spec: DriftSpec): ModelDrift | undefined {
    return this.models.get(versionKey(spec))?.drift;
  }
}

const keys = new WeakMap<DriftSpec, string>();

/**
 * `name\0version`, kept per spec object: the monitor looks a version up at every prediction,
 * and a spec's name and version do not change while it is loaded.
 */
export function versionKey(spec: DriftSpec): string {
  let key = keys.get(spec);
  if (key === undefined) {
    key = `${spec.name}\u0000${spec.version}`;
    keys.set(spec, key);
  }
  return key;
}

function round(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}
