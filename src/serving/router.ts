import { Counter, type Registry } from 'prom-client';
import { VigilError } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { Prediction } from '../tasks/types.js';
import type { ModelVersion, PredictOptions } from './model-version.js';
import type { ModelRegistry } from './registry.js';
import { fieldsOf, withLazySignal } from './lazy-signal.js';
import { RoutingMetrics, type RouteKind, type RoutingSnapshot } from './routing-metrics.js';
import { ShadowMirror } from './shadow.js';
import { splitPoint } from './traffic-split.js';
import type { FallbackNote, Routed } from './routed.js';

export type { FallbackNote, Routed };

export interface RouteStreamOptions {
  signal?: AbortSignal;
  onToken(delta: string): void;
}

/** What the caller said about where its request should go. */
export interface RouteRequest {
  /** A version or alias named in the path: no split, no shadow. */
  version?: string;
  /** The sticky key (header x-vigil-route-key or body "route_key"): one key, one version. */
  routeKey?: string;
  /** Splits requests without a route key: random unless the caller chose its request id. */
  requestId: string;
}

/** The version that answers a request, how it was chosen, and the shadow that sees a copy. */
export interface RouteDecision {
  model: ModelVersion;
  route: RouteKind;
  shadow?: ModelVersion;
}

const fallbackCounters = new WeakMap<Registry, Counter<'model' | 'fallback' | 'reason'>>();

function fallbackCounter(registry: Registry): Counter<'model' | 'fallback' | 'reason'> {
  let counter = fallbackCounters.get(registry);
  if (!counter) {
    counter = new Counter({
      name: 'vigil_fallbacks_total',
      help: "Requests handed to a model's fallback because the primary failed, by primary, fallback and the primary's error code.",
      labelNames: ['model', 'fallback', 'reason'] as const,
      registers: [registry],
    });
    fallbackCounters.set(registry, counter);
  }
  return counter;
}

/**
 * Whether a failure is the primary's (fall back) rather than the request's (do not: the
 * fallback would refuse it too). Server-side failures are: not configured, circuit open,
 * upstream errors after retries, load shedding, deadlines, not ready, crashes. A client that
 * went away (499) is not served by anyone.
 */
export function isFallbackWorthy(error: unknown): boolean {
  if (error instanceof VigilError) return error.status >= 500;
  return true;
}

export function fallbackReason(error: unknown): string {
  return error instanceof VigilError ? error.code : 'runtime_error';
}

/**
 * Picks the version that answers a request (champion, canary split, sticky key, or the version
 * the request named), copies it to the shadow version, and sends it to its model; when that
 * model fails on its own account, to the model its spec names as `fallback` (one hop, never a
 * chain, so two models naming each other cannot loop). Local <-> remote in either direction;
 * the fallback must have the same task, since the request was parsed for it. Not HTTP-specific.
 */
export class PredictionRouter {
  readonly metrics: RoutingMetrics;
  private readonly fallbacks: Counter<'model' | 'fallback' | 'reason'>;
  private readonly shadows: ShadowMirror;

  constructor(
    private readonly registry: ModelRegistry,
    metrics: Metrics,
    private readonly logger?: Logger,
  ) {
    this.fallbacks = fallbackCounter(metrics.registry);
    this.metrics = new RoutingMetrics(metrics.registry, () => this.snapshot());
    this.shadows = new ShadowMirror(this.metrics, logger);
  }

  /** Which version answers; throws 404 for an unknown model, version or unset alias. */
  choose(name: string, request: RouteRequest): RouteDecision {
    if (request.version !== undefined) return { model: this.registry.get(name, request.version), route: 'explicit' };
    const versions = this.registry.versions(name);
    const { policy } = this.registry.routing.entry(name);
    const key = request.routeKey ?? request.requestId;
    let decision: RouteDecision = { model: this.registry.routing.champion(name, versions), route: 'champion' };
    if (policy.challenger !== undefined && policy.canaryWeight > 0) {
      const challenger = versions.find((v) => v.version === policy.challenger);
      // A challenger that is not ready (loading, failed) gives its share back to the champion.
      if (challenger?.state === 'ready' && splitPoint('canary', name, challenger.version, key) < policy.canaryWeight) {
        decision = { model: challenger, route: 'canary' };
      }
    }
    if (policy.shadow !== undefined && policy.shadow !== decision.model.version && splitPoint('shadow', name, policy.shadow, key) < policy.shadowWeight) {
      const shadow = versions.find((v) => v.version === policy.shadow);
      if (shadow) decision = { ...decision, shadow };
    }
    return decision;
  }

  /**
   * Answers with the chosen version (or its fallback), and copies the request to the shadow in
   * the background. `useFallback: false` where a stand-in could not speak the caller's format (OIP tensors).
   */
  async predict(decision: RouteDecision, inputs: unknown[], options: PredictOptions = {}, { useFallback = true } = {}): Promise<Routed<Prediction[]>> {
    const primary = decision.model;
    this.count(decision);
    const answered = this.answer(primary, inputs, options, useFallback);
    if (decision.shadow) void this.shadows.mirror(decision.shadow, inputs, answered, options);
    return answered;
  }

  private async answer(primary: ModelVersion, inputs: unknown[], options: PredictOptions, useFallback: boolean): Promise<Routed<Prediction[]>> {
    try {
      return { result: await this.metrics.timeVersion(primary, 'primary', () => primary.predict(inputs, options)), model: primary };
    } catch (error) {
      const standIn = useFallback ? this.fallbackFor(primary, error) : undefined;
      if (!standIn) throw error;
      const fallback = this.note(primary, standIn, error);
      try {
        // Not a spread: the caller's signal is a getter on the prototype (lazy-signal.ts).
        const standInOptions = withLazySignal({ ...fieldsOf(options), fallback }, () => options.signal);
        return { result: await standIn.predict(inputs, standInOptions), model: standIn, fallback };
      } catch (fallbackError) {
        throw this.bothFailed(primary, standIn, error, fallbackError);
      }
    }
  }

  /**
   * Streams one input (no shadow: a second generation would double the upstream cost). Falls
   * back only while nothing has been sent: once a token reached the caller, switching models
   * would splice two answers together.
   */
  async stream(decision: RouteDecision, input: unknown, options: RouteStreamOptions): Promise<Routed<Prediction>> {
    const primary = decision.model;
    this.count(decision);
    let sent = false;
    const onToken = (delta: string) => {
      sent = true;
      options.onToken(delta);
    };
    try {
      const result = await this.metrics.timeVersion(primary, 'primary', () => primary.stream(input, { signal: options.signal, onToken }));
      return { result, model: primary };
    } catch (error) {
      const standIn = sent ? undefined : this.fallbackFor(primary, error);
      if (!standIn) throw error;
      const fallback = this.note(primary, standIn, error);
      try {
        // Same task as the primary (fallbackFor checks), so it streams too.
        return { result: await standIn.stream(input, { signal: options.signal, onToken }), model: standIn, fallback };
      } catch (fallbackError) {
        throw this.bothFailed(primary, standIn, error, fallbackError);
      }
    }
  }

  private count(decision: RouteDecision): void {
    this.metrics.decisions.inc({ model: decision.model.name, version: decision.model.version, route: decision.route });
  }

  /** The aliases and weights of every model, for the routing gauges. */
  private snapshot(): RoutingSnapshot[] {
    return this.registry.names().map((name) => {
      const versions = this.registry.versions(name);
      const { policy } = this.registry.routing.entry(name);
      const present = (version: string | undefined) => version !== undefined && versions.some((v) => v.version === version);
      const aliases = [{ alias: 'champion', version: this.registry.routing.champion(name, versions).version }];
      if (present(policy.challenger)) aliases.push({ alias: 'challenger', version: policy.challenger! });
      if (present(policy.shadow)) aliases.push({ alias: 'shadow', version: policy.shadow! });
      return { model: name, aliases, canaryWeight: policy.canaryWeight, shadowWeight: policy.shadowWeight };
    });
  }

  /** The ready-or-not fallback model for a failure, or undefined when there is none to ask. */
  private fallbackFor(primary: ModelVersion, error: unknown): ModelVersion | undefined {
    const name = primary.spec.fallback;
    if (!name || name === primary.name || !isFallbackWorthy(error)) return undefined;
    if (!this.registry.has(name)) {
      this.logger?.warn({ model: primary.name, fallback: name }, 'fallback model is not loaded; answering with the primary error');
      return undefined;
    }
    const standIn = this.registry.get(name);
    if (standIn.spec.task !== primary.spec.task) {
      this.logger?.warn({ model: primary.name, fallback: name, task: primary.spec.task, fallback_task: standIn.spec.task }, 'fallback model has another task; not used');
      return undefined;
    }
    return standIn;
  }

  private note(primary: ModelVersion, standIn: ModelVersion, error: unknown): FallbackNote {
    const reason = fallbackReason(error);
    this.fallbacks.inc({ model: primary.name, fallback: standIn.name, reason });
    this.logger?.warn({ model: primary.name, fallback: standIn.name, reason }, 'primary model failed; its fallback answers');
    return { from: primary.name, reason };
  }

  /** Both failed: the caller hears the primary's error (it asked for that model), and about the fallback. */
  private bothFailed(primary: ModelVersion, standIn: ModelVersion, error: unknown, fallbackError: unknown): unknown {
    this.logger?.warn({ model: primary.name, fallback: standIn.name, reason: fallbackReason(fallbackError) }, 'fallback model failed too');
    if (error instanceof VigilError) {
      error.message = `${error.message} (fallback "${standIn.name}" failed too: ${fallbackReason(fallbackError)})`;
    }
    return error;
  }
}
