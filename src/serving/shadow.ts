import type { Logger } from '../observability/logger.js';
import type { Prediction } from '../tasks/types.js';
import type { ModelVersion, PredictOptions } from './model-version.js';
import type { Routed } from './routed.js';
import type { RoutingMetrics } from './routing-metrics.js';

/**
 * Copies requests to a shadow version to try it on live traffic: its answers are measured
 * (latency, errors, prediction mix, drift, whether its labels agree with the version that
 * answered, and its precision/recall once delayed labels arrive), never returned, and never
 * delay or fail the caller's answer.
 */
export class ShadowMirror {
  constructor(
    private readonly metrics: RoutingMetrics,
    private readonly logger?: Logger,
  ) {}

  /** Resolves once the shadow has answered and been compared; never rejects. */
  async mirror(shadow: ModelVersion, inputs: unknown[], primary: Promise<Routed<Prediction[]>>, options: PredictOptions): Promise<void> {
    const labels = { model: shadow.name, version: shadow.version };
    if (shadow.state !== 'ready') {
      this.metrics.shadowRequests.inc({ ...labels, outcome: 'skipped' });
      return;
    }
    // Counted before the caller is answered, so "none in flight" means every copy is accounted for.
    this.metrics.shadowInFlight.inc(labels);
    try {
      // Same deadline as the caller's, so a shadow never waits in a queue longer than its primary
      // could. Logged under the caller's request id, marked as a shadow: a delayed label joins
      // the answer the caller got and scores this one beside it.
      const copy = { timeoutMs: options.timeoutMs, requestId: options.requestId, shadow: true };
      const own = this.metrics.timeVersion(shadow, 'shadow', () => shadow.predict(inputs, copy)).then(
        (predictions) => {
          this.metrics.shadowRequests.inc({ ...labels, outcome: 'ok' });
          return predictions;
        },
        (error: unknown) => {
          this.metrics.shadowRequests.inc({ ...labels, outcome: 'error' });
          this.logger?.debug({ err: error, model: shadow.name, version: shadow.version }, 'shadow prediction failed');
          return undefined;
        },
      );
      const [mine, answered] = await Promise.all([own, primary.catch(() => undefined)]);
      // A fallback answered for another model: its labels say nothing about this version.
      if (!mine || !answered || answered.fallback) return;
      answered.result.forEach((theirs, i) => {
        const label = mine[i]?.label;
        if (label === undefined || theirs.label === undefined) return;
        const result = label === theirs.label ? 'agree' : 'disagree';
        this.metrics.shadowComparisons.inc({ ...labels, primary_version: answered.model.version, result });
      });
    } finally {
      this.metrics.shadowInFlight.dec(labels);
    }
  }
}
