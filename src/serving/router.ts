import { Counter, type Registry } from 'prom-client';
import { VigilError } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { Prediction } from '../tasks/types.js';
import type { ModelVersion, PredictOptions } from './model-version.js';
import type { ModelRegistry } from './registry.js';

/** Which model stood in for which, and why: part of the answer, so callers can tell. */
export interface FallbackNote {
  from: string;
  reason: string;
}

export interface Routed<T> {
  result: T;
  /** The model version that answered (the fallback's when it stood in). */
  model: ModelVersion;
  fallback?: FallbackNote;
}

export interface RouteStreamOptions {
  signal?: AbortSignal;
  onToken(delta: string): void;
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
 * Sends a request to its model and, when that model fails on its own account, to the model
 * its spec names as `fallback` (one hop, never a chain, so two models naming each other
 * cannot loop). Local <-> remote in either direction; the fallback must have the same task,
 * since the request was parsed for it. Not HTTP-specific: routes and the CLI share it.
 */
export class PredictionRouter {
  private readonly fallbacks: Counter<'model' | 'fallback' | 'reason'>;

  constructor(
    private readonly registry: ModelRegistry,
    metrics: Metrics,
    private readonly logger?: Logger,
  ) {
    this.fallbacks = fallbackCounter(metrics.registry);
  }

  async predict(primary: ModelVersion, inputs: unknown[], options: PredictOptions = {}): Promise<Routed<Prediction[]>> {
    try {
      return { result: await primary.predict(inputs, options), model: primary };
    } catch (error) {
      const standIn = this.fallbackFor(primary, error);
      if (!standIn) throw error;
      const fallback = this.note(primary, standIn, error);
      try {
        return { result: await standIn.predict(inputs, { ...options, fallback }), model: standIn, fallback };
      } catch (fallbackError) {
        throw this.bothFailed(primary, standIn, error, fallbackError);
      }
    }
  }

  /**
   * Streams one input. Falls back only while nothing has been sent: once a token reached the
   * caller, switching models would splice two answers together.
   */
  async stream(primary: ModelVersion, input: unknown, options: RouteStreamOptions): Promise<Routed<Prediction>> {
    let sent = false;
    const onToken = (delta: string) => {
      sent = true;
      options.onToken(delta);
    };
    try {
      return { result: await primary.stream(input, { signal: options.signal, onToken }), model: primary };
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
