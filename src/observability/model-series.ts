import { boundCounter, boundHistogram } from './bound-metrics.js';
import type { InferenceStage, Metrics } from './metrics.js';

/**
 * The metric series one model version updates on every request, bound once when it loads
 * (src/observability/bound-metrics.ts): per-request updates then skip prom-client's label
 * hashing, which was ~1.3-2 µs per update and ten updates per request.
 */
export class ModelSeries {
  /** `{ model, version }`, frozen: prom-client keeps label objects in its series. */
  readonly labels: Readonly<{ model: string; version: string }>;
  readonly stage: Readonly<Record<InferenceStage, (seconds: number) => void>>;
  readonly batchSize: (inputs: number) => void;
  readonly confidence: (score: number) => void;
  readonly value: (value: number) => void;
  readonly truncated: () => void;
  private readonly predicted = new Map<string, () => void>();

  /**
   * @param observed false: every update is a no-op (`--observability off`, for measuring what
   * the updates cost); the series are still declared, so /metrics keeps its shape.
   */
  constructor(
    private readonly metrics: Metrics,
    model: string,
    version: string,
    private readonly observed = true,
  ) {
    this.labels = Object.freeze({ model, version });
    if (!observed) {
      const none = () => undefined;
      this.stage = { preprocess: none, queue: none, infer: none, postprocess: none };
      this.batchSize = this.confidence = this.value = this.truncated = none;
      return;
    }
    const stage = (name: InferenceStage) => boundHistogram(metrics.stageDuration, { model, version, stage: name });
    this.stage = { preprocess: stage('preprocess'), queue: stage('queue'), infer: stage('infer'), postprocess: stage('postprocess') };
    this.batchSize = boundHistogram(metrics.batchSize, this.labels);
    this.confidence = boundHistogram(metrics.confidence, this.labels);
    this.value = boundHistogram(metrics.predictionValue, this.labels);
    const truncated = boundCounter(metrics.truncatedInputs, this.labels);
    this.truncated = () => truncated();
  }

  /**
   * The version's series at 0 from the moment it is ready, so a dashboard reads 0 rather than
   * "No data" before the first request: predictions per label (regression: label "value"), the
   * confidence or value histogram, truncated inputs (text) and shed requests per reason.
   */
  initialize(spec: { task: string; labels?: readonly string[] }): void {
    if (!this.observed) return;
    const m = this.metrics;
    const regression = spec.task === 'tabular-regression';
    for (const label of regression ? ['value'] : (spec.labels ?? [])) m.predictions.inc({ ...this.labels, label }, 0);
    if (regression) m.predictionValue.zero(this.labels);
    else if (spec.labels?.length) m.confidence.zero(this.labels);
    if (spec.task.startsWith('text-')) m.truncatedInputs.inc(this.labels, 0);
    for (const reason of ['queue_full', 'deadline']) m.shed.inc({ ...this.labels, reason }, 0);
  }

  /** Counts one prediction of `label` in vigil_predictions_total (a model's labels are few). */
  prediction(label: string): void {
    if (!this.observed) return;
    let count = this.predicted.get(label);
    if (!count) {
      const inc = boundCounter(this.metrics.predictions, { ...this.labels, label });
      this.predicted.set(label, (count = () => inc()));
    }
    count();
  }
}
