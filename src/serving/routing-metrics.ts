import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { LATENCY_BUCKETS } from '../observability/metrics.js';

/**
 * What release management exports: how each request was routed, how every version answers
 * (primary or shadow), how often a shadow agrees with the version that answered, and the
 * current aliases and weights (so a dashboard can mark when a canary started or was promoted).
 * Labels are bounded: models and versions from the repository, a handful of fixed values.
 */

/** How a request's version was chosen: the champion, the canary split, or the request named it. */
export type RouteKind = 'champion' | 'canary' | 'explicit';
export type Role = 'primary' | 'shadow';

/** The routing state the gauges show, read at scrape time. */
export interface RoutingSnapshot {
  model: string;
  aliases: { alias: string; version: string }[];
  canaryWeight: number;
  shadowWeight: number;
}

export class RoutingMetrics {
  readonly decisions: Counter<'model' | 'version' | 'route'>;
  readonly versionDuration: Histogram<'model' | 'version' | 'role'>;
  readonly shadowRequests: Counter<'model' | 'version' | 'outcome'>;
  readonly shadowInFlight: Gauge<'model' | 'version'>;
  readonly shadowComparisons: Counter<'model' | 'version' | 'primary_version' | 'result'>;

  constructor(registry: Registry, snapshot: () => RoutingSnapshot[]) {
    this.decisions = new Counter({
      name: 'vigil_route_decisions_total',
      help: 'Predict requests by the model version chosen to answer and how it was chosen (route: champion, canary, explicit = the request named a version or alias).',
      labelNames: ['model', 'version', 'route'] as const,
      registers: [registry],
    });
    this.versionDuration = new Histogram({
      name: 'vigil_version_request_duration_seconds',
      help: 'Time one model version took to answer a request (failures included), as the primary that answered or as a shadow: compares a canary or shadow with the champion.',
      labelNames: ['model', 'version', 'role'] as const,
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    });
    this.shadowRequests = new Counter({
      name: 'vigil_shadow_requests_total',
      help: 'Requests copied to a shadow version, by outcome (ok, error, skipped = the shadow was not ready). Shadow answers are never returned.',
      labelNames: ['model', 'version', 'outcome'] as const,
      registers: [registry],
    });
    this.shadowInFlight = new Gauge({
      name: 'vigil_shadow_requests_in_flight',
      help: 'Shadow copies started and not finished yet; one that keeps growing means the shadow cannot keep up.',
      labelNames: ['model', 'version'] as const,
      registers: [registry],
    });
    this.shadowComparisons = new Counter({
      name: 'vigil_shadow_comparisons_total',
      help: "Inputs a shadow version and the answering (primary) version both labelled, by whether the shadow's label agreed with the primary's.",
      labelNames: ['model', 'version', 'primary_version', 'result'] as const,
      registers: [registry],
    });
    new Gauge({
      name: 'vigil_route_alias',
      help: 'Which version each alias names (value 1): champion (answers unaddressed requests), challenger (takes the canary share), shadow.',
      labelNames: ['model', 'alias', 'version'] as const,
      registers: [registry],
      collect() {
        this.reset();
        for (const model of snapshot()) for (const { alias, version } of model.aliases) this.set({ model: model.model, alias, version }, 1);
      },
    });
    new Gauge({
      name: 'vigil_route_weight',
      help: 'Share of unaddressed requests sent to the challenger (split="canary") or copied to the shadow (split="shadow"), 0..1.',
      labelNames: ['model', 'split'] as const,
      registers: [registry],
      collect() {
        this.reset();
        for (const model of snapshot()) {
          this.set({ model: model.model, split: 'canary' }, model.canaryWeight);
          this.set({ model: model.model, split: 'shadow' }, model.aliases.some((a) => a.alias === 'shadow') ? model.shadowWeight : 0);
        }
      },
    });
  }

  /** Runs one version's answer and records how long it took, whether it succeeded or not. */
  async timeVersion<T>(model: { name: string; version: string }, role: Role, run: () => Promise<T>): Promise<T> {
    const started = performance.now();
    try {
      return await run();
    } finally {
      this.versionDuration.observe({ model: model.name, version: model.version, role }, (performance.now() - started) / 1000);
    }
  }
}
