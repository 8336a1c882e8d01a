import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/**
 * Online quality from delayed labels (POST /v1/feedback): each label is joined with its
 * prediction, counted by outcome, and kept in a sliding window of the last N labelled
 * predictions per model version (default 500, in the order the labels arrived). The window's
 * accuracy / precision / recall / F1 (classifiers) or MAE / RMSE (regression) are exported as
 * gauges, but only once it holds `minCount` labels (default 20): three labels are not a
 * measurement, and an alert must not fire on them. Which metrics a model gets comes from its
 * spec's `quality.metrics`; precision/recall/F1 are those of `quality.positiveLabel` when the
 * spec names one, else macro-averaged over the labels seen in the window (predicted or true).
 */

export const DEFAULT_QUALITY_WINDOW = 500;
export const DEFAULT_QUALITY_MIN_COUNT = 20;

export const CLASSIFICATION_METRICS = ['accuracy', 'precision', 'recall', 'f1'] as const;
export const REGRESSION_METRICS = ['mae', 'rmse'] as const;
export type QualityMetricName = (typeof CLASSIFICATION_METRICS)[number] | (typeof REGRESSION_METRICS)[number];

export type Outcome = 'tp' | 'fp' | 'fn' | 'tn' | 'correct' | 'incorrect' | 'received';

/** What quality needs from a model spec. */
export interface QualitySpec {
  name: string;
  version: string;
  task: string;
  labels?: string[];
  quality?: { metrics: string[]; positiveLabel?: string };
}

export type QualityKind = 'classification' | 'regression';

export function qualityKind(spec: Pick<QualitySpec, 'task'>): QualityKind | undefined {
  if (spec.task === 'tabular-regression') return 'regression';
  if (spec.task === 'text-classification' || spec.task === 'image-classification') return 'classification';
  return undefined;
}

/** The metrics a model is scored with: its spec's `quality.metrics` that fit its kind, else the kind's defaults. */
export function qualityMetricsFor(spec: QualitySpec): QualityMetricName[] {
  const kind = qualityKind(spec);
  if (!kind) return [];
  const allowed: readonly string[] = kind === 'regression' ? REGRESSION_METRICS : CLASSIFICATION_METRICS;
  const declared = spec.quality?.metrics?.filter((m) => allowed.includes(m)) as QualityMetricName[] | undefined;
  if (declared && declared.length > 0) return declared;
  return kind === 'regression' ? [...REGRESSION_METRICS] : ['accuracy'];
}

/** The outcome counted for one labelled classification (tp/fp/fn/tn around the positive label, else correct/incorrect). */
export function outcomeOf(predicted: string, actual: string, positiveLabel?: string): Outcome {
  if (positiveLabel === undefined) return predicted === actual ? 'correct' : 'incorrect';
  const p = predicted === positiveLabel;
  const a = actual === positiveLabel;
  return p && a ? 'tp' : p ? 'fp' : a ? 'fn' : 'tn';
}

export interface LabelledClass {
  predicted: string;
  actual: string;
  /** Who sent the label (the client's address); unknown for labels restored from the log. */
  source?: string;
}

export interface LabelledValue {
  predicted: number;
  actual: number;
  source?: string;
}

/** The last `size` labelled predictions of one model version. */
export class QualityWindow {
  private readonly classes: (LabelledClass | undefined)[];
  private readonly values: (LabelledValue | undefined)[];
  private next = 0;
  private filled = 0;

  constructor(
    readonly kind: QualityKind,
    readonly size = DEFAULT_QUALITY_WINDOW,
    readonly positiveLabel?: string,
  ) {
    this.classes = kind === 'classification' ? new Array(size) : [];
    this.values = kind === 'regression' ? new Array(size) : [];
  }

  get count(): number {
    return this.filled;
  }

  /**
   * The share of the window's labels that the most prolific single source sent (0 when no label
   * has a known source). Near 1, one client alone sets this window's metrics.
   */
  largestSourceShare(): number {
    if (this.filled === 0) return 0;
    const counts = new Map<string, number>();
    let largest = 0;
    const items: readonly ({ source?: string } | undefined)[] = this.kind === 'classification' ? this.classes : this.values;
    for (let i = 0; i < this.filled; i++) {
      const source = items[i]?.source;
      if (source === undefined) continue;
      const count = (counts.get(source) ?? 0) + 1;
      counts.set(source, count);
      if (count > largest) largest = count;
    }
    return largest / this.filled;
  }

  pushClass(item: LabelledClass): void {
    if (this.kind !== 'classification') return;
    this.classes[this.next] = item;
    this.advance();
  }

  pushValue(item: LabelledValue): void {
    if (this.kind !== 'regression' || !Number.isFinite(item.predicted) || !Number.isFinite(item.actual)) return;
    this.values[this.next] = item;
    this.advance();
  }

  private advance(): void {
    this.next = (this.next + 1) % this.size;
    if (this.filled < this.size) this.filled++;
  }

  /**
   * The window's metrics. A metric whose denominator is zero (precision with no positive
   * prediction in the window) is left out rather than reported as 0.
   */
  metrics(): Partial<Record<QualityMetricName, number>> {
    if (this.filled === 0) return {};
    if (this.kind === 'regression') {
      let ae = 0;
      let se = 0;
      for (let i = 0; i < this.filled; i++) {
        const { predicted, actual } = this.values[i]!;
        ae += Math.abs(actual - predicted);
        se += (actual - predicted) ** 2;
      }
      return { mae: ae / this.filled, rmse: Math.sqrt(se / this.filled) };
    }
    const items = this.classes.slice(0, this.filled) as LabelledClass[];
    const correct = items.filter((x) => x.predicted === x.actual).length;
    const out: Partial<Record<QualityMetricName, number>> = { accuracy: correct / items.length };
    const prf = (label: string) => {
      let tp = 0;
      let fp = 0;
      let fn = 0;
      for (const { predicted, actual } of items) {
        if (predicted === label && actual === label) tp++;
        else if (predicted === label) fp++;
        else if (actual === label) fn++;
      }
      const precision = tp + fp > 0 ? tp / (tp + fp) : undefined;
      const recall = tp + fn > 0 ? tp / (tp + fn) : undefined;
      const f1 = precision !== undefined && recall !== undefined ? (precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0) : undefined;
      return { precision, recall, f1 };
    };
    if (this.positiveLabel !== undefined) {
      const { precision, recall, f1 } = prf(this.positiveLabel);
      if (precision !== undefined) out.precision = precision;
      if (recall !== undefined) out.recall = recall;
      if (f1 !== undefined) out.f1 = f1;
      return out;
    }
    // Macro average over the labels seen in the window; a label only predicted or only true scores 0 where undefined.
    const labels = [...new Set(items.flatMap((x) => [x.predicted, x.actual]))];
    let p = 0;
    let r = 0;
    let f = 0;
    for (const label of labels) {
      const m = prf(label);
      p += m.precision ?? 0;
      r += m.recall ?? 0;
      f += m.f1 ?? 0;
    }
    return { ...out, precision: p / labels.length, recall: r / labels.length, f1: f / labels.length };
  }
}

/** Label delay buckets: a second to a month. */
export const LABEL_DELAY_BUCKETS = [1, 10, 60, 300, 900, 3600, 4 * 3600, 12 * 3600, 86_400, 3 * 86_400, 7 * 86_400, 14 * 86_400, 30 * 86_400];

const GAUGE_HELP: Record<QualityMetricName, string> = {
  accuracy: 'Accuracy over the last labelled predictions (sliding window per model version).',
  precision: "Precision over the last labelled predictions: of the spec's positive label, else macro-averaged.",
  recall: "Recall over the last labelled predictions: of the spec's positive label, else macro-averaged.",
  f1: "F1 over the last labelled predictions: of the spec's positive label, else macro-averaged.",
  mae: 'Mean absolute error over the last labelled predictions, in the unit of the target.',
  rmse: 'Root mean squared error over the last labelled predictions, in the unit of the target.',
};

/**
 * The feedback metrics: `vigil_feedback_total{model,version,outcome}`,
 * `vigil_label_delay_seconds{model,version}`, `vigil_feedback_rejected_total{reason}`, and the
 * window gauges `vigil_online_<metric>{model,version}` + `vigil_online_window_size{model,version}`.
 */
export class QualityMetrics {
  readonly feedback: Counter<'model' | 'version' | 'outcome'>;
  readonly labelDelay: Histogram<'model' | 'version'>;
  readonly rejected: Counter<'reason'>;
  /**
   * Sums of |error| and error² of labelled regression predictions: with vigil_feedback_total
   * {outcome="received"} as the count, Prometheus sums them over every replica into the fleet's
   * MAE and RMSE (recording rules), which per-replica windows cannot give.
   */
  readonly absoluteError: Counter<'model' | 'version'>;
  readonly squaredError: Counter<'model' | 'version'>;
  private readonly windows = new Map<string, { spec: QualitySpec; metrics: QualityMetricName[]; window: QualityWindow }>();

  constructor(
    registry: Registry,
    readonly options: { windowSize?: number; minCount?: number } = {},
  ) {
    this.feedback = new Counter({
      name: 'vigil_feedback_total',
      help: 'Delayed labels joined with their predictions, by outcome: tp/fp/fn/tn around the spec\'s positive label, correct/incorrect without one, received for regression.',
      labelNames: ['model', 'version', 'outcome'] as const,
      registers: [registry],
    });
    this.labelDelay = new Histogram({
      name: 'vigil_label_delay_seconds',
      help: 'Time from a prediction to its label arriving through POST /v1/feedback.',
      labelNames: ['model', 'version'] as const,
      buckets: LABEL_DELAY_BUCKETS,
      registers: [registry],
    });
    this.absoluteError = new Counter({
      name: 'vigil_feedback_absolute_error_total',
      help: 'Sum of the absolute errors of labelled regression predictions, in the unit of the target (divide by vigil_feedback_total{outcome="received"} for the MAE).',
      labelNames: ['model', 'version'] as const,
      registers: [registry],
    });
    this.squaredError = new Counter({
      name: 'vigil_feedback_squared_error_total',
      help: 'Sum of the squared errors of labelled regression predictions (divide by vigil_feedback_total{outcome="received"} and take the root for the RMSE).',
      labelNames: ['model', 'version'] as const,
      registers: [registry],
    });
    this.rejected = new Counter({
      name: 'vigil_feedback_rejected_total',
      help: 'Feedback refused, by reason: prediction_not_found, already_labelled (a second label for one prediction), invalid (items); unauthorized, rate_limited (requests).',
      labelNames: ['reason'] as const,
      registers: [registry],
    });
    const windows = this.windows;
    const minCount = options.minCount ?? DEFAULT_QUALITY_MIN_COUNT;
    for (const metric of [...CLASSIFICATION_METRICS, ...REGRESSION_METRICS]) {
      new Gauge({
        name: `vigil_online_${metric}`,
        help: `${GAUGE_HELP[metric]} Exported once the window holds ${minCount} labels.`,
        labelNames: ['model', 'version'] as const,
        registers: [registry],
        collect() {
          this.reset();
          for (const { spec, metrics, window } of windows.values()) {
            if (!metrics.includes(metric) || window.count < minCount) continue;
            const value = window.metrics()[metric];
            if (value !== undefined) this.set({ model: spec.name, version: spec.version }, value);
          }
        },
      });
    }
    new Gauge({
      name: 'vigil_online_label_source_share',
      help: `Share of the online quality window's labels sent by its most prolific client (by address): near 1, one client alone sets vigil_online_*. Exported once the window holds ${minCount} labels.`,
      labelNames: ['model', 'version'] as const,
      registers: [registry],
      collect() {
        this.reset();
        for (const { spec, window } of windows.values()) if (window.count >= minCount) this.set({ model: spec.name, version: spec.version }, window.largestSourceShare());
      },
    });
    new Gauge({
      name: 'vigil_online_window_size',
      help: 'Labelled predictions in the online quality window of each model version.',
      labelNames: ['model', 'version'] as const,
      registers: [registry],
      collect() {
        this.reset();
        for (const { spec, window } of windows.values()) this.set({ model: spec.name, version: spec.version }, window.count);
      },
    });
  }

  /**
   * Exports a version's feedback counters at 0 as soon as it loads: Prometheus's increase() takes
   * a series' first sample as its start, so labels counted before the first scrape of a counter
   * that did not exist yet would never reach the fleet's figures.
   */
  initialise(spec: QualitySpec): void {
    const kind = qualityKind(spec);
    if (!kind) return;
    const labels = { model: spec.name, version: spec.version };
    if (kind === 'regression') {
      this.feedback.inc({ ...labels, outcome: 'received' }, 0);
      this.absoluteError.inc(labels, 0);
      this.squaredError.inc(labels, 0);
      return;
    }
    const outcomes: Outcome[] = spec.quality?.positiveLabel !== undefined ? ['tp', 'fp', 'fn', 'tn'] : ['correct', 'incorrect'];
    for (const outcome of outcomes) this.feedback.inc({ ...labels, outcome }, 0);
  }

  get minCount(): number {
    return this.options.minCount ?? DEFAULT_QUALITY_MIN_COUNT;
  }

  /** The (new, empty) window of a model version; replaces any earlier one. Undefined for tasks without labels. */
  reset(spec: QualitySpec): QualityWindow | undefined {
    const kind = qualityKind(spec);
    if (!kind) return undefined;
    const window = new QualityWindow(kind, this.options.windowSize ?? DEFAULT_QUALITY_WINDOW, kind === 'classification' ? spec.quality?.positiveLabel : undefined);
    this.windows.set(`${spec.name}\u0000${spec.version}`, { spec: { ...spec }, metrics: qualityMetricsFor(spec), window });
    return window;
  }

  window(spec: Pick<QualitySpec, 'name' | 'version'>): QualityWindow | undefined {
    return this.windows.get(`${spec.name}\u0000${spec.version}`)?.window;
  }

  forget(spec: Pick<QualitySpec, 'name' | 'version'>): void {
    this.windows.delete(`${spec.name}\u0000${spec.version}`);
  }
}
