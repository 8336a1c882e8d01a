/** Shapes of the Vigil JSON API, as the playground reads them (see docs/ARCHITECTURE.md). */

export interface ModelInfo {
  name: string;
  version: string;
  versions?: string[];
  task: string;
  runtime: string;
  state: string;
  reason?: string;
  description?: string;
  labels?: string[];
  [key: string]: unknown;
}

export interface ModelsResponse {
  default?: string;
  models: ModelInfo[];
}

export interface ReadyModel {
  name: string;
  version: string;
  task: string;
  runtime: string;
  state: string;
  reason?: string;
  required: boolean;
}

export interface ReadyResponse {
  ready: boolean;
  reason?: string;
  models: ReadyModel[];
}

/** Every predict answer carries which model version answered and the request id. */
export interface PredictionMeta {
  model: string;
  version: string;
  request_id: string;
}

export interface ClassificationResult extends PredictionMeta {
  label: string;
  score: number;
  scores: Record<string, number>;
  truncated?: boolean;
}

export interface RegressionResult extends PredictionMeta {
  value: number;
  unit?: string;
  target?: string;
}

export interface GenerationResult extends PredictionMeta {
  text: string;
  [key: string]: unknown;
}

export interface MonitorPoint {
  t: number;
  requests_per_second?: number;
  error_ratio?: number;
  latency_p50_seconds?: number;
  latency_p95_seconds?: number;
  latency_p99_seconds?: number;
  cpu_ratio?: number;
  rss_bytes?: number;
  event_loop_lag_seconds?: number;
  predictions?: Record<string, Record<string, number>>;
}

export interface MonitorHistory {
  interval_seconds: number;
  points: MonitorPoint[];
}
