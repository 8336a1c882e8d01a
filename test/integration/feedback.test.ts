import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeModelFolder } from '../helpers/fake-upstream.js';
import { postJson, REPO_ROOT, startVigil, type VigilProcess } from '../helpers/server.js';

/**
 * Delayed labels end to end: the real CLI with the embedded spam and air-quality models and a
 * prediction log on a temp file; predict, send labels to POST /v1/feedback, read the outcome
 * counters and online quality gauges on /metrics, then restart on the same file and see the
 * window restored.
 */

const MODELS = ['--no-embedded', '--model', path.join(REPO_ROOT, 'models', 'spam'), '--model', path.join(REPO_ROOT, 'models', 'air-quality')];
/** A remote classifier without its token (so it always fails) whose fallback is the local spam model. */
const UNCONFIGURED_ENV = { VIGIL_TEST_UNSET_TOKEN: '' };

const TEXTS = [
  'Buy cheap iPhone now!!!',
  'Congratulations! You have won a FREE vacation. Click here to claim your prize.',
  'Lowest mortgage rates, no credit check, apply today',
  'Meeting moved to 3pm tomorrow, see you in room 4',
  'Re: patch for the build failure on debian',
  'Can you send me the slides from yesterday?',
  'URGENT: your account has been suspended, verify your password here',
  'Lunch on Friday? The usual place at noon.',
  'Earn $5000 a week working from home, no experience needed',
  'Re: kernel oops with the new driver, log attached',
  'Limited offer: cheap meds online, discreet shipping',
  'The quarterly report draft is in the shared folder',
  'You are pre-approved for a platinum credit card',
  'Thanks for the review, I pushed a fix for the race condition',
  'Hot singles in your area want to meet you',
  'Reminder: dentist appointment on Tuesday at 10am',
  'Make money fast with this one weird trick',
  'Can we move the standup to 9:30?',
  'Get a degree online in two weeks, guaranteed',
  'Attached are the minutes of the board meeting',
  'Winner! Claim your cash reward before midnight',
  'Re: spamassassin rules update for procmail',
  'Cheap Rolex watches, 90% off, free delivery',
  'Please review my pull request when you have a minute',
  'Double your income with crypto, risk free',
];

const AIR_ROW = {
  'PT08.S1(CO)': 1100, 'PT08.S2(NMHC)': 950, 'PT08.S3(NOx)': 800, 'PT08.S4(NO2)': 1500, 'PT08.S5(O3)': 1000,
  T: 18, RH: 50, AH: 1.0, hour: 9, dayOfWeek: 2,
};

let dir: string;
let file: string;
let server: VigilProcess | undefined;

async function metricsText(s: VigilProcess): Promise<string> {
  return (await fetch(`${s.url}/metrics`)).text();
}

function sample(text: string, name: string, labels: string): number | undefined {
  const escaped = labels.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const match = new RegExp(`^${name}\\{${escaped}\\} (\\S+)$`, 'm').exec(text);
  return match ? Number(match[1]) : undefined;
}

// models/spam holds versions 1 and 2; the champion (the newest) answers.
const SPAM = 'model="spam",version="2"';

/** The label each prediction gets: the truth for the first 18, then the opposite (7 mistakes). */
const flip = (label: string) => (label === 'spam' ? 'ham' : 'spam');
const truth = (predicted: string, i: number) => (i < 18 ? predicted : flip(predicted));

let spamRequest: { request_id: string; predictions: { label: string }[] };
let expected: { accuracy: number; precision: number; recall: number; f1: number; outcomes: Record<string, number> };

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'vigil-feedback-'));
  file = path.join(dir, 'predictions.sqlite');
  const example = JSON.parse(readFileSync(path.join(REPO_ROOT, 'examples/dual-mode/sentiment-remote/vigil.model.json'), 'utf8')) as Record<string, unknown>;
  const remote = await writeModelFolder(path.join(dir, 'models'), {
    ...example,
    name: 'spam-remote',
    labels: ['ham', 'spam'],
    fallback: 'spam',
    remote: { ...(example.remote as object), baseUrl: 'http://127.0.0.1:9/unused', tokenEnv: 'VIGIL_TEST_UNSET_TOKEN' },
  });
  MODELS.push('--model', remote);
  server = await startVigil([...MODELS, '--prediction-log', file], UNCONFIGURED_ENV);
  await server.waitUntilReady();
});

afterAll(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('POST /v1/feedback', () => {
  it('predict, then label: the answer says what was recorded', async () => {
    const predicted = await postJson(`${server!.url}/v1/models/spam/predict`, { texts: TEXTS });
    expect(predicted.status).toBe(200);
    spamRequest = predicted.body;
    expect(spamRequest.predictions).toHaveLength(TEXTS.length);

    const first = spamRequest.predictions[0]!.label;
    const one = await postJson(`${server!.url}/v1/feedback`, { request_id: spamRequest.request_id, index: 0, label: truth(first, 0) });
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({ request_id: spamRequest.request_id, index: 0, model: 'spam', version: '2', predicted: first, label: first, correct: true });
    expect(one.body.outcome).toBe(first === 'spam' ? 'tp' : 'tn');
    expect(one.body.delay_seconds).toBeGreaterThanOrEqual(0);

    // Below the minimum (20 labels) the quality gauges stay silent; the window size shows.
    const early = await metricsText(server!);
    expect(sample(early, 'vigil_online_window_size', SPAM)).toBe(1);
    expect(sample(early, 'vigil_online_accuracy', SPAM)).toBeUndefined();
  });

  it('a batch of labels moves vigil_feedback_total and the online gauges to the right values', async () => {
    const items = spamRequest.predictions.slice(1).map((p, k) => ({ request_id: spamRequest.request_id, index: k + 1, label: truth(p.label, k + 1) }));
    const batch = await postJson(`${server!.url}/v1/feedback`, { feedback: items });
    expect(batch.status).toBe(200);
    expect(batch.body.recorded).toHaveLength(TEXTS.length - 1);
    expect(batch.body.recorded.filter((r: { correct: boolean }) => !r.correct)).toHaveLength(7);

    // What the gauges must say, computed here from the predictions and the labels sent.
    const pairs = spamRequest.predictions.map((p, i) => ({ predicted: p.label, actual: truth(p.label, i) }));
    const count = (f: (x: { predicted: string; actual: string }) => boolean) => pairs.filter(f).length;
    const tp = count((x) => x.predicted === 'spam' && x.actual === 'spam');
    const fp = count((x) => x.predicted === 'spam' && x.actual === 'ham');
    const fn = count((x) => x.predicted === 'ham' && x.actual === 'spam');
    const tn = count((x) => x.predicted === 'ham' && x.actual === 'ham');
    const precision = tp / (tp + fp);
    const recall = tp / (tp + fn);
    expected = { accuracy: (tp + tn) / pairs.length, precision, recall, f1: (2 * precision * recall) / (precision + recall), outcomes: { tp, fp, fn, tn } };

    const text = await metricsText(server!);
    for (const [outcome, n] of Object.entries(expected.outcomes)) {
      expect(sample(text, 'vigil_feedback_total', `${SPAM},outcome="${outcome}"`) ?? 0).toBe(n);
    }
    expect(sample(text, 'vigil_label_delay_seconds_count', SPAM)).toBe(TEXTS.length);
    expect(sample(text, 'vigil_online_window_size', SPAM)).toBe(TEXTS.length);
    expect(sample(text, 'vigil_online_accuracy', SPAM)).toBeCloseTo(expected.accuracy, 9);
    expect(sample(text, 'vigil_online_accuracy', SPAM)).toBeCloseTo(18 / 25, 9);
    expect(sample(text, 'vigil_online_precision', SPAM)).toBeCloseTo(expected.precision, 9);
    expect(sample(text, 'vigil_online_recall', SPAM)).toBeCloseTo(expected.recall, 9);
    expect(sample(text, 'vigil_online_f1', SPAM)).toBeCloseTo(expected.f1, 9);
    expect(sample(text, 'vigil_online_mae', SPAM)).toBeUndefined();
  });

  it('regression feedback takes a value and answers with the error', async () => {
    const predicted = await postJson(`${server!.url}/v1/models/air-quality/predict`, { features: AIR_ROW });
    expect(predicted.status).toBe(200);
    const value = predicted.body.value as number;
    const answer = await postJson(`${server!.url}/v1/feedback`, { request_id: predicted.body.request_id, value: value + 0.5 });
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ model: 'air-quality', outcome: 'received', predicted_value: value });
    expect(answer.body.absolute_error).toBeCloseTo(0.5, 6);
    const text = await metricsText(server!);
    expect(sample(text, 'vigil_feedback_total', 'model="air-quality",version="1",outcome="received"')).toBe(1);
  });

  it('Open Inference Protocol predictions are logged under the x-request-id too (a client-chosen one here)', async () => {
    const id = 'client-batch-42.7';
    const infer = await postJson(
      `${server!.url}/v2/models/spam/infer`,
      { inputs: [{ name: 'text', datatype: 'BYTES', shape: [2], data: ['Win a free cruise now', 'Notes from the design review'] }] },
      { 'x-request-id': id },
    );
    expect(infer.status).toBe(200);
    expect(infer.headers.get('x-request-id')).toBe(id);
    const labels = infer.body.outputs.find((o: { name: string }) => o.name === 'label').data as string[];
    const answer = await postJson(`${server!.url}/v1/feedback`, { request_id: id, index: 1, label: labels[1] });
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ request_id: id, index: 1, model: 'spam', predicted: labels[1], correct: true });
  });

  it('a fallback answer is logged (and labelled) under the model that answered, with where it came from', async () => {
    const answer = await postJson(`${server!.url}/v1/models/spam-remote/predict`, { text: 'Claim your free prize today' });
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ model: 'spam', fallback: { from: 'spam-remote', reason: 'not_configured' } });
    const labelled = await postJson(`${server!.url}/v1/feedback`, { request_id: answer.body.request_id, label: 'spam' });
    expect(labelled.status).toBe(200);
    expect(labelled.body).toMatchObject({ model: 'spam', predicted: answer.body.label });
    const db = new Database(file, { readonly: true });
    const row = db.prepare('SELECT model, fallback_from, fallback_reason FROM predictions WHERE request_id = ?').get(answer.body.request_id);
    db.close();
    expect(row).toEqual({ model: 'spam', fallback_from: 'spam-remote', fallback_reason: 'not_configured' });
  });

  it('refuses what it cannot join: 404, 400 naming the field, 409', async () => {
    const url = `${server!.url}/v1/feedback`;
    const single = await postJson(`${server!.url}/v1/models/spam/predict`, { text: 'Free money, click now' });
    const id = single.body.request_id as string;

    const notFound = await postJson(url, { request_id: 'no-such-request', label: 'spam' });
    expect(notFound.status).toBe(404);
    expect(notFound.body.error.code).toBe('prediction_not_found');
    expect(notFound.body.error.message).toContain('no-such-request');

    const badLabel = await postJson(url, { request_id: id, label: 'SPAM' });
    expect(badLabel.status).toBe(400);
    expect(badLabel.body.error.code).toBe('unknown_label');
    expect(badLabel.body.error.message).toContain('"label"');
    expect(badLabel.body.error.message).toContain('"ham", "spam"');

    const missing = await postJson(url, { request_id: id });
    expect(missing.status).toBe(400);
    expect(missing.body.error.message).toContain('"label"');

    const noId = await postJson(url, { label: 'spam' });
    expect(noId.status).toBe(400);
    expect(noId.body.error.message).toContain('"request_id"');

    // JSON.parse reads 1e999 as Infinity: not a finite value.
    const infinite = await postJson(url, `{"request_id": "${id}", "value": 1e999}`);
    expect(infinite.status).toBe(400);
    expect(infinite.body.error.message).toContain('"value" must be a finite number');

    const valueForClassifier = await postJson(url, { request_id: id, value: 1 });
    expect(valueForClassifier.status).toBe(400);
    expect(valueForClassifier.body.error.message).toContain('"value"');

    const typo = await postJson(url, { request_id: id, lable: 'spam' });
    expect(typo.status).toBe(400);
    expect(typo.body.error.message).toContain('"lable"');

    const noIndex = await postJson(url, { request_id: spamRequest.request_id, label: 'spam' });
    expect(noIndex.status).toBe(400);
    expect(noIndex.body.error.message).toContain('"index" is required');

    const outOfRange = await postJson(url, { request_id: spamRequest.request_id, index: 99, label: 'spam' });
    expect(outOfRange.status).toBe(404);

    const inBatch = await postJson(url, { feedback: [{ request_id: id, label: 'spam' }, { request_id: id, label: 'junk' }] });
    expect(inBatch.status).toBe(400);
    expect(inBatch.body.error.message).toContain('"feedback[1].label"');

    const ok = await postJson(url, { request_id: id, label: 'spam' });
    expect(ok.status).toBe(200);
    const again = await postJson(url, { request_id: id, label: 'ham' });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('already_labelled');

    const text = await metricsText(server!);
    expect(sample(text, 'vigil_feedback_rejected_total', 'reason="prediction_not_found"')).toBeGreaterThanOrEqual(2);
    expect(sample(text, 'vigil_feedback_rejected_total', 'reason="already_labelled"')).toBe(1);
  });

  it('keeps no raw text: not in the prediction log, not in the server logs', async () => {
    const secret = 'Contact me at carol.secret@example.com about the Zanzibar invoice';
    const answer = await postJson(`${server!.url}/v1/models/spam/predict`, { text: secret });
    expect(answer.status).toBe(200);
    // Feedback flushes the log first, so the row is on disk once this answers.
    await postJson(`${server!.url}/v1/feedback`, { request_id: answer.body.request_id, label: 'ham' });
    const db = new Database(file, { readonly: true });
    const rows = db.prepare('SELECT * FROM predictions WHERE request_id = ?').all(answer.body.request_id) as Record<string, unknown>[];
    db.close();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ model: 'spam', version: '2', idx: 0, input: null, true_label: 'ham' });
    expect(JSON.stringify(rows)).not.toContain('Zanzibar');
    expect(server!.logs.join('\n')).not.toContain('Zanzibar');
    expect(server!.logs.join('\n')).not.toContain('carol.secret');
  });

  it('after a restart on the same file the window is restored and old predictions can still be labelled', async () => {
    const before = await metricsText(server!);
    const accuracy = sample(before, 'vigil_online_accuracy', SPAM)!;
    const windowSize = sample(before, 'vigil_online_window_size', SPAM)!;
    expect(windowSize).toBe(TEXTS.length + 4);
    const unlabelled = await postJson(`${server!.url}/v1/models/spam/predict`, { text: 'Cheap pills, best prices' });

    expect(await server!.stop()).toBe(0);
    server = await startVigil([...MODELS, '--prediction-log', file], UNCONFIGURED_ENV);
    await server.waitUntilReady();
    await server.waitForLog(/online quality window restored/);

    const after = await metricsText(server);
    expect(sample(after, 'vigil_online_window_size', SPAM)).toBe(windowSize);
    expect(sample(after, 'vigil_online_accuracy', SPAM)).toBeCloseTo(accuracy, 9);
    expect(sample(after, 'vigil_online_precision', SPAM)).toBeDefined();
    // Counters start again at 0 in a new process (Prometheus handles resets), exported at 0 from
    // the load on, so the first labels after a restart count in the fleet's increase().
    expect(sample(after, 'vigil_feedback_total', `${SPAM},outcome="tp"`)).toBe(0);

    const late = await postJson(`${server.url}/v1/feedback`, { request_id: unlabelled.body.request_id, label: 'spam' });
    expect(late.status).toBe(200);
    expect(late.body.delay_seconds).toBeGreaterThan(0);
    const again = await postJson(`${server.url}/v1/feedback`, { request_id: spamRequest.request_id, index: 0, label: 'spam' });
    expect(again.status).toBe(409);
    expect(sample(await metricsText(server), 'vigil_online_window_size', SPAM)).toBe(windowSize + 1);
  });
});
