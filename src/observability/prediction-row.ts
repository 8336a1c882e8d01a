/**
 * One prediction as the stores hold it, and the mapping to and from a database row that the
 * SQLite log (prediction-log.ts) and the PostgreSQL store share: the same columns, in the same
 * order, with the same rules for absent values.
 */

export interface PredictionRecord {
  requestId: string;
  /** Position of the input within its request (0 for single-input requests). */
  index: number;
  model: string;
  version: string;
  /** Unix time in milliseconds. */
  createdAt: number;
  label?: string;
  score?: number;
  value?: number;
  fallbackFrom?: string;
  fallbackReason?: string;
  /** Only with --log-inputs, already scrubbed. */
  input?: string;
  /** A shadow version's copy: nobody got this answer; a label scores it beside the one given. */
  shadow?: boolean;
}

export interface StoredPrediction extends PredictionRecord {
  id: number;
  trueLabel?: string;
  trueValue?: number;
  /** Unix time in milliseconds; absent until labelled. */
  labelledAt?: number;
}

/**
 * A predictions row as a driver returns it. SQLite gives numbers (shadow as 0/1); PostgreSQL
 * gives bigint columns as strings and shadow as a boolean.
 */
export interface PredictionRow {
  id: number | string;
  request_id: string;
  idx: number;
  model: string;
  version: string;
  created_at: number | string;
  label: string | null;
  score: number | null;
  value: number | null;
  fallback_from: string | null;
  fallback_reason: string | null;
  input: string | null;
  true_label: string | null;
  true_value: number | null;
  labelled_at: number | string | null;
  shadow: number | boolean;
}

/** The columns a PredictionRow has (PostgreSQL's table has its idempotency key besides). */
export const PREDICTION_COLUMNS = 'id, request_id, idx, model, version, created_at, label, score, value, fallback_from, fallback_reason, input, true_label, true_value, labelled_at, shadow';

/** NaN and infinities have no place in a REAL/float8 column that means "a score". */
export const finiteOrNull = (v: number | undefined): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** A row read back: null columns become absent fields. Ids and Unix milliseconds stay far below 2^53. */
export function storedPrediction(row: PredictionRow): StoredPrediction {
  const out: StoredPrediction = { id: Number(row.id), requestId: row.request_id, index: row.idx, model: row.model, version: row.version, createdAt: Number(row.created_at) };
  if (row.label !== null) out.label = row.label;
  if (row.score !== null) out.score = row.score;
  if (row.value !== null) out.value = row.value;
  if (row.fallback_from !== null) out.fallbackFrom = row.fallback_from;
  if (row.fallback_reason !== null) out.fallbackReason = row.fallback_reason;
  if (row.input !== null) out.input = row.input;
  if (row.true_label !== null) out.trueLabel = row.true_label;
  if (row.true_value !== null) out.trueValue = row.true_value;
  if (row.labelled_at !== null) out.labelledAt = Number(row.labelled_at);
  if (row.shadow === true || row.shadow === 1) out.shadow = true;
  return out;
}

/**
 * The values a new row is inserted with, request_id to input (each store adds shadow in its
 * own type, and PostgreSQL its idempotency key).
 */
export function recordColumns(r: PredictionRecord): [string, number, string, string, number, string | null, number | null, number | null, string | null, string | null, string | null] {
  return [r.requestId, r.index, r.model, r.version, Math.round(r.createdAt), r.label ?? null, finiteOrNull(r.score), finiteOrNull(r.value), r.fallbackFrom ?? null, r.fallbackReason ?? null, r.input ?? null];
}
