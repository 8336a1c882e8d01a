import type { ModelVersion } from './model-version.js';

/** Which model stood in for which, and why: part of the answer, so callers can tell. */
export interface FallbackNote {
  from: string;
  reason: string;
}

/** An answer and the model version that gave it (shared by the router and the shadow mirror). */
export interface Routed<T> {
  result: T;
  /** The model version that answered (the fallback's when it stood in). */
  model: ModelVersion;
  fallback?: FallbackNote;
}
