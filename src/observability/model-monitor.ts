import { randomUUID } from 'node:crypto';
import { Counter, Gauge, type Registry } from 'prom-client';
import { InvalidInput, VigilError } from '../errors.js';
import { DriftMetrics, versionKey, type DriftSpec } from './drift.js';
import type { Logger } from './logger.js';
import { scrubPII } from './pii.js';
import { openPredictionStore, type StoreOptions } from './open-prediction-store.js';
import type { PredictionStore, StoredPrediction } from './prediction-store.js';
import { outcomeOf, QualityMetrics, qualityKind, type Outcome, type QualitySpec } from './quality.js';

/**
 * Model monitoring glue: ModelVersion hands each request's predictions (and the per-input
 * features its pipeline computed) to a `PredictionObserver`; this one feeds the drift windows
 * and the prediction log, and joins delayed labels (POST /v1/feedback) with the log to count
 * outcomes and keep the online quality windows. ModelVersion knows nothing of SQLite.
 */

/** What monitoring needs from a model spec (a ModelSpec fits). */
export interface MonitoredSpec extends QualitySpec, DriftSpec {
  /** Held-out numbers measured at training time (`evaluation.metrics`), exported for comparison. */
  evaluation?: Record<string, unknown>;
}

export interface ObservedItem {
  label?: string;
  score?: number;
  value?: number;
  /** Per-input drift features from Pipeline.features (names from the spec's reference). */
  features?: Readonly<Record<string, unknown>>;
  /** The raw input; only kept (scrubbed, text only) with logInputs. */
  input?: unknown;
}

export interface PredictionEvent {
  requestId?: string;
  /** Set when this model answered for another one that failed. */
  fallback?: { from: string; reason: string };
  /**
   * A shadow version's answer (nobody got it): logged under the caller's request id but marked,
   * so a delayed label joins the answer given and also scores this one.
   */
  shadow?: boolean;
  /** Wall-clock ms when the version received the call (its timeline's first mark); now when absent. */
  receivedAt?: number;
  items: ObservedItem[];
}

/** The hook ModelVersion calls; it must never throw into a request or block it. */
export interface PredictionObserver {
  observe(spec: MonitoredSpec, event: PredictionEvent): void;
  /** A version is loaded and ready (`owner` tells a reload's new version from the old one). */
  loaded?(spec: MonitoredSpec, owner: object): void;
  unloaded?(spec: MonitoredSpec, owner: object): void;
}

export interface ModelMonitorOptions {
  registry: Registry;
  logger?: Logger;
  /** Prediction log settings; path ':memory:' (default), a SQLite file or a postgres:// URL. */
  log?: StoreOptions;
  qualityWindow?: number;
  qualityMinCount?: number;
  driftWindow?: number;
  driftMinCount?: number;
  /** Keep a PII-scrubbed copy of text inputs in the prediction log (off by default). */
  logInputs?: boolean;
  now?: () => number;
}

/** One feedback item as the route parsed it. */
export interface FeedbackItem {
  requestId: string;
  index?: number;
  label?: string;
  value?: number;
  /** Names the item in errors: `""` for a single item, `feedback[3].` in a batch. */
  field: string;
}

export interface FeedbackResult {
  request_id: string;
  index: number;
  model: string;
  version: string;
  /** Seconds from the prediction to this label. */
  delay_seconds: number;
  predicted?: string;
  label?: string;
  correct?: boolean;
  outcome?: Outcome;
  predicted_value?: number;
  value?: number;
  absolute_error?: number;
  /** What shadow versions answered for the same input, scored against the same label. */
  shadows?: ShadowScore[];
}

export interface ShadowScore {
  version: string;
  predicted?: string;
  correct?: boolean;
  outcome?: Outcome;
  predicted_value?: number;
  absolute_error?: number;
}

export class FeedbackError extends VigilError {}

/** How long a label for an unknown request id waits for other replicas' write buffers (shared log). */
const SHARED_LOG_GRACE_MS = 600;

const key = (spec: { name: string; version: string }) => `${spec.name}\u0000${spec.version}`;

export class ModelMonitor implements PredictionObserver {
  readonly log: PredictionStore;
  readonly drift: DriftMetrics;
  readonly quality: QualityMetrics;
  private readonly specs = new Map<string, { spec: MonitoredSpec; owner?: object }>();
  private readonly now: () => number;
  private readonly logDropped: Counter;
  private readonly evaluation: Gauge<'model' | 'version' | 'metric'>;
  private readonly logger: Logger | undefined;

  constructor(private readonly options: ModelMonitorOptions) {
    this.now = options.now ?? Date.now;
    this.logger = options.logger;
    this.logDropped = new Counter({
      name: 'vigil_prediction_log_dropped_total',
      help: 'Prediction log rows lost because the database refused them or the write buffer overflowed.',
      registers: [options.registry],
    });
    const dropped = this.logDropped;
    this.log = openPredictionStore(
      // The clock goes to the store only when a test sets one (the store then stays on this thread).
      { ...options.log, ...(options.now ? { now: options.now } : {}) },
      {
        onDrop: (rows) => dropped.inc(rows),
        onError: (error, rows) => {
          if (rows > 0) dropped.inc(rows);
          this.logger?.warn({ err: error, rows }, 'prediction log write failed');
        },
        onConnection: (up, error) => {
          if (up) this.logger?.info({ prediction_log: this.log.location }, 'prediction log connected');
          else this.logger?.warn({ prediction_log: this.log.location, error: error?.message }, 'prediction log unreachable: rows are buffered (bounded) and predictions go on');
        },
      },
    );
    // A remote store migrates and connects in the background; the server answers meanwhile.
    this.log.start().catch((error: unknown) => this.logger?.error({ err: error }, 'prediction log could not start'));
    const log = this.log;
    new Gauge({
      name: 'vigil_prediction_log_up',
      help: 'Whether the prediction log takes writes: 1 (SQLite always; PostgreSQL connected and migrated) or 0 (rows are being buffered).',
      registers: [options.registry],
      collect() {
        this.set(log.kind === 'postgres' ? Number((log as { up?: boolean }).up === true) : 1);
      },
    });
    new Gauge({
      name: 'vigil_prediction_log_pending_rows',
      help: 'Prediction log rows waiting to be written.',
      registers: [options.registry],
      collect() {
        this.set(log.pendingRows);
      },
    });
    this.evaluation = new Gauge({
      name: 'vigil_model_evaluation',
      help: "Quality measured on the held-out split at training time (the spec's evaluation.metrics), per metric: the level to compare vigil_online_<metric> with.",
      labelNames: ['model', 'version', 'metric'] as const,
      registers: [options.registry],
    });
    this.drift = new DriftMetrics(options.registry, { windowSize: options.driftWindow, minCount: options.driftMinCount });
    this.quality = new QualityMetrics(options.registry, { windowSize: options.qualityWindow, minCount: options.qualityMinCount });
  }

  observe(spec: MonitoredSpec, event: PredictionEvent): void {
    try {
      // The spec object's own key, kept by drift.ts: no string built per prediction.
      const specKey = versionKey(spec);
      if (!this.specs.has(specKey)) this.specs.set(specKey, { spec });
      const drift = this.drift.track(spec);
      const requestId = event.requestId ?? randomUUID();
      const createdAt = event.receivedAt ?? this.now();
      this.log.append(
        event.items.map((item, index) => {
          drift?.add(item);
          return {
            requestId,
            index,
            model: spec.name,
            version: spec.version,
            createdAt,
            label: item.label,
            score: item.score,
            value: item.value,
            fallbackFrom: event.fallback?.from,
            fallbackReason: event.fallback?.reason,
            input: this.options.logInputs && typeof item.input === 'string' ? scrubPII(item.input) : undefined,
            shadow: event.shadow,
          };
        }),
      );
    } catch (error) {
      this.logger?.warn({ err: error, model: spec.name, version: spec.version }, 'prediction monitoring failed');
    }
  }

  /**
   * A version is ready: fresh drift window, quality window restored from the log's last labels
   * (in the background; the promise is for tests and says when the window is refilled).
   */
  loaded(spec: MonitoredSpec, owner: object): Promise<void> {
    let restored: Promise<void> = Promise.resolve();
    try {
      this.specs.set(key(spec), { spec, owner });
      this.drift.forget(spec);
      this.drift.track(spec);
      this.quality.initialise(spec);
      restored = this.restore(spec).then(
        () => undefined,
        (error: unknown) => this.logger?.warn({ err: error, model: spec.name, version: spec.version }, 'online quality window not restored from the prediction log'),
      );
      const evaluated = (spec.evaluation?.metrics ?? {}) as Record<string, unknown>;
      for (const metric of ['accuracy', 'precision', 'recall', 'f1', 'mae', 'rmse']) {
        const value = evaluated[metric];
        if (typeof value === 'number' && Number.isFinite(value)) this.evaluation.set({ model: spec.name, version: spec.version, metric }, value);
      }
    } catch (error) {
      this.logger?.warn({ err: error, model: spec.name, version: spec.version }, 'model monitoring could not start');
    }
    return restored;
  }

  unloaded(spec: MonitoredSpec, owner: object): void {
    // A reload loads the new version before it unloads the old one: only the current owner's state goes.
    if (this.specs.get(key(spec))?.owner !== owner) return;
    this.drift.forget(spec);
    this.quality.forget(spec);
    for (const metric of ['accuracy', 'precision', 'recall', 'f1', 'mae', 'rmse']) this.evaluation.remove({ model: spec.name, version: spec.version, metric });
  }

  /**
   * Refills a version's quality window from the labelled predictions in the log: with a shared
   * log, the fleet's last labels, so a new pod starts from the fleet's baseline.
   */
  async restore(spec: MonitoredSpec): Promise<number> {
    const window = this.quality.reset(spec);
    if (!window) return 0;
    await this.log.start();
    const rows = await this.log.recentLabelled(spec.name, spec.version, window.size);
    for (const row of rows) this.pushToWindow(spec, row, row.trueLabel, row.trueValue);
    if (rows.length > 0) this.logger?.info({ model: spec.name, version: spec.version, labelled: rows.length }, 'online quality window restored from the prediction log');
    return rows.length;
  }

  private pushToWindow(spec: MonitoredSpec, row: StoredPrediction, trueLabel: string | undefined, trueValue: number | undefined, source?: string): void {
    const window = this.quality.window(spec) ?? this.quality.reset(spec);
    if (!window) return;
    if (window.kind === 'classification' && row.label !== undefined && trueLabel !== undefined) window.pushClass({ predicted: row.label, actual: trueLabel, source });
    if (window.kind === 'regression' && row.value !== undefined && trueValue !== undefined) window.pushValue({ predicted: row.value, actual: trueValue, source });
  }

  private reject(reason: 'prediction_not_found' | 'already_labelled' | 'invalid', error: VigilError): never {
    this.quality.rejected.inc({ reason });
    throw error;
  }

  /**
   * Joins labels with their predictions and records them, all or none: every item is checked
   * first (known request, index, a label the model knows or a finite value, not yet labelled,
   * not twice in this call), then all are written in one transaction. The label also scores
   * what shadow versions answered for the same input (when their copy is logged by then).
   * `source` (the client's address) feeds vigil_online_label_source_share.
   */
  async feedback(items: FeedbackItem[], source?: string): Promise<FeedbackResult[]> {
    const labelledAt = this.now();
    const planned: { item: FeedbackItem; row: StoredPrediction; spec?: MonitoredSpec; shadows: StoredPrediction[] }[] = [];
    const seen = new Set<number>();
    for (const item of items) {
      const where = item.field ? `${item.field.replace(/\.$/, '')}: ` : '';
      let logged = await this.log.find(item.requestId);
      if (this.log.shared && !logged.some((r) => !r.shadow)) {
        // Made by another replica a moment ago, its row may still wait in that replica's write
        // buffer (flushed every 200 ms): one more look before saying it does not exist.
        await new Promise((resolve) => setTimeout(resolve, SHARED_LOG_GRACE_MS));
        logged = await this.log.find(item.requestId);
      }
      // The caller's answer is what a label is about; shadow copies ride along.
      const rows = logged.filter((r) => !r.shadow);
      if (rows.length === 0) {
        this.reject('prediction_not_found', new FeedbackError(404, 'prediction_not_found', `${where}no prediction with request_id "${item.requestId}" in the prediction log (never made, made by another server, or older than the log keeps)`));
      }
      const indices = [...new Set(rows.map((r) => r.index))];
      let index = item.index;
      if (index === undefined) {
        if (indices.length > 1) {
          this.reject('invalid', new InvalidInput(`"${item.field}index" is required: request "${item.requestId}" made ${indices.length} predictions (index 0 to ${Math.max(...indices)})`, 'invalid_feedback'));
        }
        index = indices[0]!;
      }
      // A client may reuse a request id: the newest prediction at that index is the one labelled.
      const row = rows.filter((r) => r.index === index).at(-1);
      if (!row) {
        this.reject('prediction_not_found', new FeedbackError(404, 'prediction_not_found', `${where}request "${item.requestId}" has no prediction at index ${index} (it made ${indices.length}: index 0 to ${Math.max(...indices)})`));
      }
      const spec = this.specs.get(key({ name: row.model, version: row.version }))?.spec;
      const kind = spec ? qualityKind(spec) : row.label !== undefined ? 'classification' : row.value !== undefined ? 'regression' : undefined;
      if (kind === undefined) {
        this.reject('invalid', new InvalidInput(`${where}model "${row.model}" (${spec?.task ?? 'unknown task'}) makes predictions that take no label`, 'feedback_not_supported'));
      }
      if (kind === 'classification') {
        if (item.value !== undefined) this.reject('invalid', new InvalidInput(`"${item.field}value" is for regression models; model "${row.model}" is a classifier: send "label"`, 'invalid_feedback'));
        if (item.label === undefined) this.reject('invalid', new InvalidInput(`missing field "${item.field}label": model "${row.model}" is a classifier; send the true label${spec?.labels ? ` (one of ${spec.labels.map((l) => JSON.stringify(l)).join(', ')})` : ''}`, 'invalid_feedback'));
        if (spec?.labels && !spec.labels.includes(item.label)) {
          this.reject('invalid', new InvalidInput(`"${item.field}label": ${JSON.stringify(item.label)} is not a label of model "${row.model}" (one of ${spec.labels.map((l) => JSON.stringify(l)).join(', ')})`, 'unknown_label'));
        }
      } else {
        if (item.label !== undefined) this.reject('invalid', new InvalidInput(`"${item.field}label" is for classifiers; model "${row.model}" is a regression model: send "value"`, 'invalid_feedback'));
        if (item.value === undefined) this.reject('invalid', new InvalidInput(`missing field "${item.field}value": model "${row.model}" is a regression model; send the true value (a finite number)`, 'invalid_feedback'));
      }
      if (row.labelledAt !== undefined || seen.has(row.id)) {
        const earlier = row.labelledAt !== undefined ? ` at ${new Date(row.labelledAt).toISOString()} with ${row.trueLabel !== undefined ? JSON.stringify(row.trueLabel) : String(row.trueValue)}` : ' earlier in this request';
        this.reject('already_labelled', new FeedbackError(409, 'already_labelled', `${where}the prediction of request "${item.requestId}" index ${index} was already labelled${earlier}`));
      }
      seen.add(row.id);
      // One copy per shadow version (the newest, should the client have reused its request id).
      const shadows = [
        ...new Map(logged.filter((r) => r.shadow && r.index === index && r.labelledAt === undefined && !seen.has(r.id)).map((r) => [r.version, r])).values(),
      ];
      for (const shadow of shadows) seen.add(shadow.id);
      planned.push({ item, row, spec, shadows });
    }

    const written = await this.log.label(
      planned.flatMap(({ item, row, shadows }) => [
        { id: row.id, trueLabel: item.label, trueValue: item.value, labelledAt },
        ...shadows.map((shadow) => ({ id: shadow.id, trueLabel: item.label, trueValue: item.value, labelledAt, optional: true })),
      ]),
    );
    if (!written.ok) {
      this.reject('already_labelled', new FeedbackError(409, 'already_labelled', `a prediction in this request was labelled by another request meanwhile; nothing was recorded`));
    }

    return planned.map(({ item, row, spec, shadows }) => {
      const delay = Math.max(0, (labelledAt - row.createdAt) / 1000);
      const result: FeedbackResult = { request_id: row.requestId, index: row.index, model: row.model, version: row.version, delay_seconds: delay };
      Object.assign(result, this.score(row, item, spec, source), item.label !== undefined ? { label: item.label } : { value: item.value });
      if (spec) this.quality.labelDelay.observe({ model: row.model, version: row.version }, delay);
      if (shadows.length > 0) {
        result.shadows = shadows.map((shadow) => ({
          version: shadow.version,
          ...this.score(shadow, item, this.specs.get(key({ name: shadow.model, version: shadow.version }))?.spec, source),
        }));
      }
      return result;
    });
  }

  /** One labelled prediction: its outcome, counted and pushed into its version's quality window. */
  private score(row: StoredPrediction, item: FeedbackItem, spec: MonitoredSpec | undefined, source?: string): Omit<ShadowScore, 'version'> {
    const labels = { model: row.model, version: row.version };
    let scored: Omit<ShadowScore, 'version'>;
    if (item.label !== undefined) {
      const outcome = outcomeOf(row.label ?? '', item.label, spec?.quality?.positiveLabel);
      scored = { predicted: row.label, correct: row.label === item.label, outcome };
    } else {
      const predicted = row.value ?? Number.NaN;
      scored = { predicted_value: row.value, absolute_error: Math.abs(item.value! - predicted), outcome: 'received' };
    }
    if (spec) {
      this.quality.feedback.inc({ ...labels, outcome: scored.outcome! });
      if (scored.absolute_error !== undefined && Number.isFinite(scored.absolute_error)) {
        this.quality.absoluteError.inc(labels, scored.absolute_error);
        this.quality.squaredError.inc(labels, scored.absolute_error ** 2);
      }
      this.pushToWindow(spec, row, item.label, item.value, source);
    }
    return scored;
  }

  close(): Promise<void> {
    return this.log.close();
  }
}
