import { mkdtempSync, rmSync } from 'node:fs';
import Database from 'better-sqlite3';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { VigilError } from '../../src/errors.js';
import { ModelMonitor, type MonitoredSpec } from '../../src/observability/model-monitor.js';
import { PredictionLog } from '../../src/observability/prediction-log.js';
import { outcomeOf, QualityMetrics, qualityMetricsFor, QualityWindow } from '../../src/observability/quality.js';

const spam: MonitoredSpec = { name: 'spam', version: '1', task: 'text-classification', labels: ['ham', 'spam'], quality: { metrics: ['accuracy', 'precision', 'recall', 'f1'], positiveLabel: 'spam' } };
const digits: MonitoredSpec = { name: 'digits', version: '1', task: 'image-classification', labels: ['0', '1', '2'], quality: { metrics: ['accuracy', 'precision', 'recall', 'f1'] } };
const air: MonitoredSpec = { name: 'air-quality', version: '1', task: 'tabular-regression', quality: { metrics: ['mae', 'rmse'] } };

function gauge(text: string, name: string, model: string): number | undefined {
  const match = new RegExp(`^${name}\\{model="${model}",version="1"\\} (\\S+)$`, 'm').exec(text);
  return match ? Number(match[1]) : undefined;
}

describe('outcomes', () => {
  it('tp/fp/fn/tn around the positive label, correct/incorrect without one', () => {
    expect(outcomeOf('spam', 'spam', 'spam')).toBe('tp');
    expect(outcomeOf('spam', 'ham', 'spam')).toBe('fp');
    expect(outcomeOf('ham', 'spam', 'spam')).toBe('fn');
    expect(outcomeOf('ham', 'ham', 'spam')).toBe('tn');
    expect(outcomeOf('3', '3')).toBe('correct');
    expect(outcomeOf('3', '8')).toBe('incorrect');
  });

  it('metrics come from the spec, within what the task can measure', () => {
    expect(qualityMetricsFor(spam)).toEqual(['accuracy', 'precision', 'recall', 'f1']);
    expect(qualityMetricsFor(air)).toEqual(['mae', 'rmse']);
    expect(qualityMetricsFor({ ...spam, quality: { metrics: ['accuracy', 'mae', 'auc'] } })).toEqual(['accuracy']);
    expect(qualityMetricsFor({ ...spam, quality: undefined })).toEqual(['accuracy']);
    expect(qualityMetricsFor({ name: 'g', version: '1', task: 'text-generation' })).toEqual([]);
  });
});

describe('QualityWindow', () => {
  it('binary metrics of the positive label, by hand: tp=3 fp=1 fn=2 tn=4', () => {
    const w = new QualityWindow('classification', 100, 'spam');
    const pairs: [string, string][] = [
      ...Array<[string, string]>(3).fill(['spam', 'spam']),
      ['spam', 'ham'],
      ...Array<[string, string]>(2).fill(['ham', 'spam']),
      ...Array<[string, string]>(4).fill(['ham', 'ham']),
    ];
    for (const [predicted, actual] of pairs) w.pushClass({ predicted, actual });
    const m = w.metrics();
    expect(m.accuracy).toBeCloseTo(7 / 10, 12);
    expect(m.precision).toBeCloseTo(3 / 4, 12);
    expect(m.recall).toBeCloseTo(3 / 5, 12);
    expect(m.f1).toBeCloseTo((2 * 0.75 * 0.6) / (0.75 + 0.6), 12);
  });

  it('leaves precision out when nothing positive was predicted (no denominator), instead of saying 0', () => {
    const w = new QualityWindow('classification', 10, 'spam');
    w.pushClass({ predicted: 'ham', actual: 'spam' });
    w.pushClass({ predicted: 'ham', actual: 'ham' });
    const m = w.metrics();
    expect(m.precision).toBeUndefined();
    expect(m.f1).toBeUndefined();
    expect(m.recall).toBe(0);
    expect(m.accuracy).toBe(0.5);
  });

  it('macro-averages over the labels seen when the spec names no positive label', () => {
    const w = new QualityWindow('classification', 10);
    // label a: tp 1, fp 1 (b predicted a), fn 0 -> P 0.5 R 1 F 2/3; label b: tp 1, fn 1 -> P 1 R 0.5 F 2/3
    w.pushClass({ predicted: 'a', actual: 'a' });
    w.pushClass({ predicted: 'a', actual: 'b' });
    w.pushClass({ predicted: 'b', actual: 'b' });
    const m = w.metrics();
    expect(m.precision).toBeCloseTo(0.75, 12);
    expect(m.recall).toBeCloseTo(0.75, 12);
    expect(m.f1).toBeCloseTo(2 / 3, 12);
  });

  it('regression: MAE and RMSE by hand', () => {
    const w = new QualityWindow('regression', 10);
    w.pushValue({ predicted: 1, actual: 2 });
    w.pushValue({ predicted: 3, actual: 1 });
    w.pushValue({ predicted: 0.5, actual: 0.5 });
    w.pushValue({ predicted: Number.NaN, actual: 1 }); // ignored
    expect(w.count).toBe(3);
    expect(w.metrics().mae).toBeCloseTo(1, 12);
    expect(w.metrics().rmse).toBeCloseTo(Math.sqrt(5 / 3), 12);
  });

  it('slides: only the last N labels count', () => {
    const w = new QualityWindow('classification', 4);
    for (let i = 0; i < 4; i++) w.pushClass({ predicted: 'x', actual: 'y' });
    expect(w.metrics().accuracy).toBe(0);
    for (let i = 0; i < 3; i++) w.pushClass({ predicted: 'x', actual: 'x' });
    expect(w.count).toBe(4);
    expect(w.metrics().accuracy).toBe(0.75);
  });
});

describe('QualityMetrics gauges', () => {
  it('exports the spec metrics only once the window holds the minimum, and the window size always', async () => {
    const registry = new Registry();
    const q = new QualityMetrics(registry, { windowSize: 50, minCount: 5 });
    const w = q.reset({ ...spam, quality: { metrics: ['accuracy', 'recall'], positiveLabel: 'spam' } })!;
    for (let i = 0; i < 4; i++) w.pushClass({ predicted: 'spam', actual: 'spam' });
    let text = await registry.metrics();
    expect(gauge(text, 'vigil_online_window_size', 'spam')).toBe(4);
    expect(gauge(text, 'vigil_online_accuracy', 'spam')).toBeUndefined();
    w.pushClass({ predicted: 'ham', actual: 'spam' });
    text = await registry.metrics();
    expect(gauge(text, 'vigil_online_accuracy', 'spam')).toBeCloseTo(0.8, 9);
    expect(gauge(text, 'vigil_online_recall', 'spam')).toBeCloseTo(0.8, 9);
    // Not declared in this spec's quality.metrics:
    expect(gauge(text, 'vigil_online_precision', 'spam')).toBeUndefined();
    expect(gauge(text, 'vigil_online_mae', 'spam')).toBeUndefined();
  });
});

describe('ModelMonitor: prediction log + feedback + restore', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  const predict = (monitor: ModelMonitor, spec: MonitoredSpec, requestId: string, items: { label?: string; score?: number; value?: number }[]) =>
    monitor.observe(spec, { requestId, items });

  it('joins labels with predictions, counts outcomes, rejects what it must, and restores the window after a restart', async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'vigil-quality-'));
    const file = path.join(dir, 'predictions.sqlite');
    let clock = 1_000_000;
    const registry = new Registry();
    const monitor = new ModelMonitor({ registry, log: { path: file, pruneIntervalMs: 0 }, qualityMinCount: 3, now: () => clock });
    monitor.loaded(spam, {});
    monitor.loaded(air, {});
    predict(monitor, spam, 'r1', [{ label: 'spam', score: 0.9 }, { label: 'ham', score: 0.8 }]);
    predict(monitor, spam, 'r2', [{ label: 'spam', score: 0.7 }]);
    predict(monitor, air, 'r3', [{ value: 1.5 }]);
    expect(monitor.log.pendingRows).toBe(4); // buffered, not yet written
    clock += 90_000;

    const results = await monitor.feedback([
      { requestId: 'r1', index: 0, label: 'spam', field: 'feedback[0].' },
      { requestId: 'r1', index: 1, label: 'spam', field: 'feedback[1].' },
      { requestId: 'r2', label: 'ham', field: 'feedback[2].' },
    ]);
    expect(results.map((r) => r.outcome)).toEqual(['tp', 'fn', 'fp']);
    expect(results[0]).toMatchObject({ request_id: 'r1', index: 0, model: 'spam', version: '1', predicted: 'spam', label: 'spam', correct: true, delay_seconds: 90 });
    const [air1] = await monitor.feedback([{ requestId: 'r3', value: 2, field: '' }]);
    expect(air1).toMatchObject({ outcome: 'received', predicted_value: 1.5, value: 2, absolute_error: 0.5 });

    const text = await registry.metrics();
    expect(text).toContain('vigil_feedback_total{model="spam",version="1",outcome="tp"} 1');
    expect(text).toContain('vigil_feedback_total{model="spam",version="1",outcome="fn"} 1');
    expect(text).toContain('vigil_feedback_total{model="spam",version="1",outcome="fp"} 1');
    expect(text).toContain('vigil_feedback_total{model="air-quality",version="1",outcome="received"} 1');
    expect(text).toContain('vigil_feedback_absolute_error_total{model="air-quality",version="1"} 0.5');
    expect(text).toContain('vigil_feedback_squared_error_total{model="air-quality",version="1"} 0.25');
    expect(text).toMatch(/vigil_label_delay_seconds_bucket\{le="300",model="spam",version="1"\} 3/);
    expect(gauge(text, 'vigil_online_accuracy', 'spam')).toBeCloseTo(1 / 3, 9);
    expect(gauge(text, 'vigil_online_precision', 'spam')).toBeCloseTo(0.5, 9);
    expect(gauge(text, 'vigil_online_recall', 'spam')).toBeCloseTo(0.5, 9);

    const status = async (fn: () => Promise<unknown>) => {
      try {
        await fn();
      } catch (error) {
        return [(error as VigilError).status, (error as VigilError).code, (error as Error).message];
      }
      return undefined;
    };
    expect((await status(() => monitor.feedback([{ requestId: 'nope', label: 'spam', field: '' }])))?.slice(0, 2)).toEqual([404, 'prediction_not_found']);
    expect((await status(() => monitor.feedback([{ requestId: 'r1', index: 0, label: 'ham', field: '' }])))?.slice(0, 2)).toEqual([409, 'already_labelled']);
    expect((await status(() => monitor.feedback([{ requestId: 'r1', index: 5, label: 'ham', field: '' }])))?.slice(0, 2)).toEqual([404, 'prediction_not_found']);
    const unknown = await status(() => monitor.feedback([{ requestId: 'r3', label: 'spam', field: '' }]));
    expect(unknown?.[0]).toBe(400);
    expect(unknown?.[2]).toContain('"value"');

    // All or none: the second item is bad, so the first (valid) one is not recorded either.
    predict(monitor, spam, 'r4', [{ label: 'ham', score: 0.6 }]);
    const batch = await status(() => monitor.feedback([{ requestId: 'r4', label: 'ham', field: 'feedback[0].' }, { requestId: 'r4', label: 'SPAM', field: 'feedback[1].' }]));
    expect(batch?.slice(0, 2)).toEqual([400, 'unknown_label']);
    expect(batch?.[2]).toContain('"feedback[1].label"');
    expect((await monitor.log.find('r4'))[0]!.labelledAt).toBeUndefined();
    // The same prediction twice in one call is refused as a whole.
    expect((await status(() => monitor.feedback([{ requestId: 'r4', label: 'ham', field: '' }, { requestId: 'r4', label: 'ham', field: '' }])))?.slice(0, 2)).toEqual([409, 'already_labelled']);
    monitor.close();

    // "Restart": a new monitor on the same file refills the window from the labelled rows.
    const registry2 = new Registry();
    const again = new ModelMonitor({ registry: registry2, log: { path: file, pruneIntervalMs: 0 }, qualityMinCount: 3, now: () => clock });
    await again.loaded(spam, {});
    const text2 = await registry2.metrics();
    expect(gauge(text2, 'vigil_online_window_size', 'spam')).toBe(3);
    expect(gauge(text2, 'vigil_online_accuracy', 'spam')).toBeCloseTo(1 / 3, 9);
    // Predictions made before the restart can still be labelled; labelled ones stay labelled.
    expect((await again.feedback([{ requestId: 'r4', label: 'ham', field: '' }]))[0]!.outcome).toBe('tn');
    expect((await status(() => again.feedback([{ requestId: 'r2', label: 'spam', field: '' }])))?.[0]).toBe(409);
    again.close();
  });

  it("a label scores the shadow's copy beside the answer given, without ever being refused for it", async () => {
    const registry = new Registry();
    const monitor = new ModelMonitor({ registry, qualityMinCount: 1 });
    const candidate = { ...spam, version: '2' };
    monitor.loaded(spam, {});
    monitor.loaded(candidate, {});
    // The shadow's copy may be logged before or after the answer; the answer is what gets labelled.
    monitor.observe(candidate, { requestId: 'r1', shadow: true, items: [{ label: 'ham', score: 0.6 }] });
    monitor.observe(spam, { requestId: 'r1', items: [{ label: 'spam', score: 0.9 }] });
    monitor.observe(spam, { requestId: 'r2', items: [{ label: 'spam', score: 0.9 }] });

    const [result] = await monitor.feedback([{ requestId: 'r1', label: 'spam', field: '' }]);
    expect(result).toMatchObject({ version: '1', predicted: 'spam', outcome: 'tp', shadows: [{ version: '2', predicted: 'ham', correct: false, outcome: 'fn' }] });
    // A copy that was not logged (yet) is simply not scored.
    expect((await monitor.feedback([{ requestId: 'r2', label: 'spam', field: '' }]))[0]!.shadows).toBeUndefined();

    const text = await registry.metrics();
    expect(text).toContain('vigil_feedback_total{model="spam",version="1",outcome="tp"} 2');
    expect(text).toContain('vigil_feedback_total{model="spam",version="2",outcome="fn"} 1');
    expect(text).toContain('vigil_online_recall{model="spam",version="2"} 0');
    expect(text).toContain('vigil_online_recall{model="spam",version="1"} 1');
    // The label delay is the answer's; the shadow adds no second observation.
    expect(text).toMatch(/vigil_label_delay_seconds_count\{model="spam",version="1"\} 2/);
    expect(text).not.toMatch(/vigil_label_delay_seconds_count\{model="spam",version="2"\}/);
    monitor.close();
  });

  it('opens a log written before shadow copies were logged, and keeps its rows as answers', async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'vigil-quality-'));
    const file = path.join(dir, 'old.sqlite');
    const old = new Database(file);
    old.exec(`CREATE TABLE predictions (id INTEGER PRIMARY KEY AUTOINCREMENT, request_id TEXT NOT NULL, idx INTEGER NOT NULL, model TEXT NOT NULL,
      version TEXT NOT NULL, created_at INTEGER NOT NULL, label TEXT, score REAL, value REAL, fallback_from TEXT, fallback_reason TEXT,
      input TEXT, true_label TEXT, true_value REAL, labelled_at INTEGER)`);
    old.prepare('INSERT INTO predictions (request_id, idx, model, version, created_at, label) VALUES (?, 0, ?, ?, ?, ?)').run('before', 'spam', '1', Date.now(), 'spam');
    old.close();
    const monitor = new ModelMonitor({ registry: new Registry(), log: { path: file, pruneIntervalMs: 0 } });
    monitor.loaded(spam, {});
    expect((await monitor.feedback([{ requestId: 'before', label: 'spam', field: '' }]))[0]).toMatchObject({ outcome: 'tp' });
    // New rows, answers and shadow copies, go into the same table.
    monitor.observe(spam, { requestId: 'after', items: [{ label: 'ham' }] });
    monitor.observe({ ...spam, version: '2' }, { requestId: 'after', shadow: true, items: [{ label: 'spam' }] });
    expect((await monitor.feedback([{ requestId: 'after', label: 'ham', field: '' }]))[0]).toMatchObject({ outcome: 'tn', shadows: [{ version: '2', outcome: 'fp' }] });
    expect((await monitor.log.find('before'))[0]!.shadow).toBeUndefined();
    monitor.close();
  });

  it('a version reloaded keeps its state; only the current owner unloading forgets it', async () => {
    const registry = new Registry();
    const monitor = new ModelMonitor({ registry, qualityMinCount: 1 });
    const oldVersion = {};
    const newVersion = {};
    const withEvaluation = { ...digits, evaluation: { metrics: { accuracy: 0.9785, f1: 0.978, loss: 0.07 } } };
    monitor.loaded(withEvaluation, oldVersion);
    monitor.loaded(withEvaluation, newVersion);
    monitor.unloaded(withEvaluation, oldVersion);
    let text = await registry.metrics();
    expect(text).toContain('vigil_online_window_size{model="digits",version="1"} 0');
    expect(text).toContain('vigil_model_evaluation{model="digits",version="1",metric="accuracy"} 0.9785');
    expect(text).toContain('vigil_model_evaluation{model="digits",version="1",metric="f1"} 0.978');
    expect(text).not.toContain('metric="loss"');
    monitor.unloaded(withEvaluation, newVersion);
    text = await registry.metrics();
    expect(text).not.toContain('vigil_online_window_size{model="digits"');
    expect(text).not.toContain('vigil_model_evaluation{model="digits"');
    monitor.close();
  });
});

describe('PredictionLog retention', () => {
  it('deletes rows past the row limit and past the age limit', () => {
    let clock = Date.UTC(2026, 0, 31);
    const log = new PredictionLog({ maxRows: 5, maxAgeDays: 10, pruneIntervalMs: 0, now: () => clock });
    const row = (i: number, createdAt: number) => ({ requestId: `r${i}`, index: 0, model: 'm', version: '1', createdAt, label: 'a' });
    log.append(Array.from({ length: 8 }, (_, i) => row(i, clock - (8 - i) * 86_400_000)));
    log.flush();
    expect(log.count()).toBe(8);
    expect(log.prune()).toBe(3); // the 3 oldest go: 5 rows are kept
    expect(log.find('r2')).toEqual([]);
    expect(log.find('r3')).toHaveLength(1);
    clock += 5 * 86_400_000 + 1; // r3 was 5 days old: now just over 10; r4 is 9 days old
    expect(log.prune()).toBe(1);
    expect(log.find('r3')).toEqual([]);
    expect(log.find('r4')).toHaveLength(1);
    log.close();
  });

  it('stores no input text unless asked, and a scrubbed copy when asked', async () => {
    const plain = new ModelMonitor({ registry: new Registry() });
    plain.observe(spam, { requestId: 'a', items: [{ label: 'spam', input: 'mail bob@example.com now' }] });
    expect((await plain.log.find('a'))[0]!.input).toBeUndefined();
    plain.close();
    const withInputs = new ModelMonitor({ registry: new Registry(), logInputs: true });
    withInputs.observe(spam, { requestId: 'a', items: [{ label: 'spam', input: 'mail bob@example.com now' }] });
    expect((await withInputs.log.find('a'))[0]!.input).toBe('mail <EMAIL_ADDRESS> now');
    withInputs.close();
  });
});

describe('PredictionLog in the background', () => {
  const rows = (n: number, from: number, createdAt: number) =>
    Array.from({ length: n }, (_, i) => ({ requestId: `r${from + i}`, index: 0, model: 'm', version: '1', createdAt, label: 'a' }));
  const until = async (done: () => boolean) => {
    for (let i = 0; i < 500 && !done(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  };

  it('writes every queued row on its timer, a chunk at a time', async () => {
    const log = new PredictionLog({ pruneIntervalMs: 0, flushIntervalMs: 5 });
    log.append(rows(1000, 0, Date.now()));
    await until(() => log.written === 1000);
    expect(log.written).toBe(1000);
    expect(log.pendingRows).toBe(0);
    log.close();
  });

  it('prunes past the row and age limits on its timer, a chunk at a time', async () => {
    let clock = Date.UTC(2026, 0, 31);
    const log = new PredictionLog({ maxRows: 1200, maxAgeDays: 10, pruneIntervalMs: 20, now: () => clock });
    log.append(rows(700, 0, clock - 20 * 86_400_000)); // past the age limit
    log.append(rows(2600, 700, clock));
    log.flush();
    expect(log.count()).toBe(3300);
    await until(() => log.count() === 1200);
    expect(log.count()).toBe(1200);
    expect(log.find('r2099')).toEqual([]); // the oldest recent rows went past the row limit
    expect(log.find('r2100')).toHaveLength(1);
    log.close();
  });
});
