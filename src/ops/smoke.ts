/**
 * The smoke test: does a running Vigil answer, is it ready, can Prometheus scrape it, and does
 * every model give the answer it should? Used by `vigil smoke`, by the watchdog before and after each action,
 * and by deploy scripts to verify a release. It speaks plain HTTP to the server, so it can
 * check any deployment (container, VM, Fly, Kubernetes) from the outside.
 *
 * A model is checked against an EXPECTED answer when we know one: built-in cases for models
 * whose labels say what they are (sentiment, spam) and whose spec reports a held-out
 * evaluation, or the cases of an expectations file. Anything else (a random-weight fixture,
 * an unknown user model) can only be checked for shape, and the report says `shape-only`.
 */
import { readFileSync } from 'node:fs';

export type CheckStatus = 'pass' | 'fail' | 'warn';

export interface SmokeCheck {
  name: string;
  status: CheckStatus;
  /** For model checks: whether the answer itself was checked or only its form. */
  kind?: 'expected' | 'shape-only';
  model?: string;
  detail: string;
  latency_ms?: number;
}

export interface SmokeReport {
  url: string;
  /** False when the server could not be reached at all (exit code 2). */
  reachable: boolean;
  /** Every check passed (warnings allowed). */
  healthy: boolean;
  checks: SmokeCheck[];
  started_at: string;
  duration_ms: number;
}

/** One case of an expectations file, or a built-in one. */
export interface ExpectedCase {
  /** The predict body, e.g. {"text": "..."}. */
  input: Record<string, unknown>;
  /** The label the model must answer... */
  label?: string;
  /** ...or one of these labels... */
  anyOf?: string[];
  /** ...or, for regression, a value within [min, max]. */
  value?: { min?: number; max?: number };
  /** Optional: the score of the answered label must reach this. */
  minScore?: number;
  /** Shown in the report; defaults to the input. */
  description?: string;
}

/** `--expect file.json`: `{"models": {"name": [cases...]}}`; a named model's cases replace the built-in ones. */
export interface ExpectationsFile {
  models: Record<string, ExpectedCase[]>;
}

export interface SmokeOptions {
  url: string;
  /** Per HTTP request. */
  timeoutMs?: number;
  /** Keep polling /ready this long before judging (a fresh deploy is still loading models). */
  waitReadyMs?: number;
  expectations?: ExpectationsFile;
}

/** What /v1/models says about a model (only the fields the smoke test reads). */
interface ModelInfo {
  name: string;
  task?: string;
  state?: string;
  labels?: string[];
  evaluation?: { metrics?: Record<string, unknown> };
  signature?: { inputs?: { shape?: number[] }[] };
}

interface ReadyModel {
  name: string;
  required?: boolean;
}

/**
 * Obvious inputs whose answer any usable model of that kind gets right. Kept few and blunt on
 * purpose: a smoke test must not flap on a borderline sentence.
 */
const SENTIMENT_CASES: ExpectedCase[] = [
  { input: { text: 'I am so happy today!' }, label: 'POSITIVE' },
  { input: { text: 'This is the worst day ever.' }, label: 'NEGATIVE' },
];
const SPAM_CASES = (spamLabel: string): ExpectedCase[] => [
  {
    input: { text: 'WINNER!! You have won a FREE prize of $1000 cash. Click here now to claim your reward, limited offer!!!' },
    label: spamLabel,
  },
];
/**
 * Digits drawn the MNIST way (white ink on black, centred): a vertical stroke is a 1, a bar with
 * a slanted stem is a 7. Any usable digit classifier gets these; a broken one (swapped labels,
 * wrong preprocessing) does not.
 */
function digitCases(side: number): ExpectedCase[] {
  const draw = (ink: (x: number, y: number) => boolean) =>
    Array.from({ length: side }, (_, y) => Array.from({ length: side }, (_, x) => (ink((x * 28) / side, (y * 28) / side) ? 1 : 0)));
  return [
    { input: { pixels: draw((x, y) => x >= 13 && x <= 15 && y >= 5 && y <= 22) }, label: '1', description: 'a drawn 1' },
    {
      input: { pixels: draw((x, y) => (y >= 5 && y <= 7 && x >= 8 && x <= 20) || (y > 7 && y <= 22 && Math.abs(x - (20 - (y - 7) * 0.5)) <= 1.2)) },
      label: '7',
      description: 'a drawn 7',
    },
  ];
}

/** Side of a square single-channel image input (28 for [-1, 784] or [-1, 1, 28, 28]), if that is what the model takes. */
function squareImageSide(model: ModelInfo): number | undefined {
  const shape = model.signature?.inputs?.[0]?.shape;
  if (!shape || shape.length < 2) return undefined;
  const size = shape.slice(1).reduce((a, b) => a * b, 1);
  const side = Math.round(Math.sqrt(size));
  return size > 0 && side * side === size ? side : undefined;
}

/** Any text, for a classifier whose right answer we do not know. */
const NEUTRAL_TEXT = 'The package arrived on Tuesday afternoon.';

export const DEFAULT_TIMEOUT_MS = 10_000;

export function loadExpectations(file: string): ExpectationsFile {
  const raw = JSON.parse(readFileSync(file, 'utf8')) as unknown;
  const models = (raw as { models?: unknown })?.models;
  if (typeof models !== 'object' || models === null || Array.isArray(models)) {
    throw new Error(`${file}: expected {"models": {"<name>": [{"input": {...}, "label": "..."}]}}`);
  }
  for (const [name, cases] of Object.entries(models)) {
    if (!Array.isArray(cases) || cases.length === 0) throw new Error(`${file}: models.${name} must be a non-empty array of cases`);
    cases.forEach((c: unknown, i) => {
      const ok = typeof c === 'object' && c !== null && typeof (c as ExpectedCase).input === 'object' && (c as ExpectedCase).input !== null;
      const has = ok && ((c as ExpectedCase).label !== undefined || (c as ExpectedCase).anyOf !== undefined || (c as ExpectedCase).value !== undefined);
      if (!has) throw new Error(`${file}: models.${name}[${i}] needs "input" and one of "label", "anyOf", "value"`);
    });
  }
  return { models: models as Record<string, ExpectedCase[]> };
}

/** Exit code for scripts: 0 healthy, 1 a check failed, 2 unreachable. */
export function exitCodeFor(report: SmokeReport): 0 | 1 | 2 {
  if (!report.reachable) return 2;
  return report.healthy ? 0 : 1;
}

class Unreachable extends Error {}

interface HttpAnswer {
  status: number;
  body: unknown;
  latencyMs: number;
}

async function request(url: string, timeoutMs: number, body?: unknown): Promise<HttpAnswer> {
  const started = performance.now();
  let response: Response;
  try {
    response = await fetch(url, {
      method: body === undefined ? 'GET' : 'POST',
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code;
    const why = (error as Error).name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : (cause ?? (error as Error).message);
    throw new Unreachable(`${url}: ${why}`);
  }
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: keep the text for the report
  }
  return { status: response.status, body: parsed, latencyMs: Math.round((performance.now() - started) * 10) / 10 };
}

const hasLabel = (labels: string[] | undefined, wanted: string) => labels?.find((l) => l.toLowerCase() === wanted);

/** True when the spec reports metrics measured on held-out data: only then do we expect right answers. */
const isEvaluated = (model: ModelInfo) => Object.keys(model.evaluation?.metrics ?? {}).length > 0;

/** The cases a model is held to, and whether they check the answer or only its form. */
export function casesFor(model: ModelInfo, expectations?: ExpectationsFile): { kind: 'expected' | 'shape-only'; cases: ExpectedCase[]; why: string } {
  const fromFile = expectations?.models[model.name];
  if (fromFile) return { kind: 'expected', cases: fromFile, why: 'expectations file' };
  if (model.task === 'text-classification') {
    const evaluated = isEvaluated(model);
    if (evaluated && hasLabel(model.labels, 'positive') && hasLabel(model.labels, 'negative')) {
      const pos = hasLabel(model.labels, 'positive')!;
      const neg = hasLabel(model.labels, 'negative')!;
      return {
        kind: 'expected',
        cases: SENTIMENT_CASES.map((c) => ({ ...c, label: c.label === 'POSITIVE' ? pos : neg })),
        why: 'sentiment labels and a held-out evaluation',
      };
    }
    const spam = hasLabel(model.labels, 'spam');
    if (evaluated && spam) return { kind: 'expected', cases: SPAM_CASES(spam), why: 'spam labels and a held-out evaluation' };
    const why = evaluated ? 'no built-in cases for these labels (pass --expect)' : 'no held-out evaluation in its spec (e.g. random weights)';
    return { kind: 'shape-only', cases: [{ input: { text: NEUTRAL_TEXT }, anyOf: model.labels ?? [] }], why };
  }
  const digits = Array.from({ length: 10 }, (_, i) => String(i));
  const side = squareImageSide(model);
  if (model.task === 'image-classification' && isEvaluated(model) && side && digits.every((d) => model.labels?.includes(d))) {
    return { kind: 'expected', cases: digitCases(side), why: 'digit labels and a held-out evaluation' };
  }
  return { kind: 'shape-only', cases: [], why: `no built-in cases for task ${model.task ?? 'unknown'} (pass --expect); checked through /health?deep=1` };
}

/** Why a prediction does not meet a case, or undefined when it does. */
export function judge(prediction: unknown, expected: ExpectedCase, shapeOnly: boolean): string | undefined {
  if (typeof prediction !== 'object' || prediction === null) return `answer is not a JSON object: ${JSON.stringify(prediction)}`;
  const p = prediction as { label?: unknown; score?: unknown; value?: unknown };
  if (expected.value) {
    if (typeof p.value !== 'number' || !Number.isFinite(p.value)) return `expected a numeric "value", got ${JSON.stringify(p.value)}`;
    const { min = -Infinity, max = Infinity } = expected.value;
    if (p.value < min || p.value > max) return `value ${p.value} outside [${min}, ${max}]`;
    return undefined;
  }
  if (typeof p.label !== 'string') return `expected a "label", got ${JSON.stringify(p.label)}`;
  if (typeof p.score !== 'number' || !(p.score >= 0 && p.score <= 1)) return `score ${JSON.stringify(p.score)} is not a probability`;
  if (expected.label !== undefined && p.label !== expected.label) return `answered ${p.label} (${p.score.toFixed(3)}), expected ${expected.label}`;
  if (expected.anyOf && expected.anyOf.length > 0 && !expected.anyOf.includes(p.label)) {
    return shapeOnly ? `label ${p.label} is not one of the model's labels ${expected.anyOf.join('/')}` : `answered ${p.label}, expected one of ${expected.anyOf.join('/')}`;
  }
  if (expected.minScore !== undefined && p.score < expected.minScore) return `score ${p.score.toFixed(3)} below ${expected.minScore}`;
  return undefined;
}

const describeInput = (c: ExpectedCase) => c.description ?? JSON.stringify(c.input).slice(0, 80);

/** Polls /ready until it says 200 or the time is up; returns the last answer. */
async function waitReady(base: string, timeoutMs: number, waitMs: number): Promise<HttpAnswer> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    let answer: HttpAnswer | undefined;
    try {
      answer = await request(`${base}/ready`, timeoutMs);
    } catch (error) {
      if (Date.now() >= deadline) throw error;
    }
    if (answer && (answer.status === 200 || Date.now() >= deadline)) return answer;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

export async function runSmoke(options: SmokeOptions): Promise<SmokeReport> {
  const base = options.url.replace(/\/+$/, '');
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const startedAt = new Date();
  const started = performance.now();
  const checks: SmokeCheck[] = [];
  const report = (reachable: boolean): SmokeReport => ({
    url: base,
    reachable,
    healthy: reachable && checks.length > 0 && checks.every((c) => c.status !== 'fail'),
    checks,
    started_at: startedAt.toISOString(),
    duration_ms: Math.round(performance.now() - started),
  });

  // 1. Liveness: if the process does not answer, nothing else can be judged.
  try {
    const alive = options.waitReadyMs ? await waitAlive(base, timeoutMs, options.waitReadyMs) : await request(`${base}/alive`, timeoutMs);
    checks.push({ name: 'alive', status: alive.status === 200 ? 'pass' : 'fail', detail: `GET /alive -> ${alive.status}`, latency_ms: alive.latencyMs });
  } catch (error) {
    checks.push({ name: 'alive', status: 'fail', detail: (error as Error).message });
    return report(false);
  }

  try {
    // 2. Readiness, with the per-model state the server reports.
    const ready = options.waitReadyMs ? await waitReady(base, timeoutMs, options.waitReadyMs) : await request(`${base}/ready`, timeoutMs);
    const readyModels = ((ready.body as { models?: ReadyModel[] })?.models ?? []) as ReadyModel[];
    const notReady = JSON.stringify((ready.body as { models?: unknown })?.models ?? ready.body).slice(0, 300);
    checks.push({
      name: 'ready',
      status: ready.status === 200 ? 'pass' : 'fail',
      detail: ready.status === 200 ? `GET /ready -> 200 (${readyModels.length} models)` : `GET /ready -> ${ready.status}: ${notReady}`,
      latency_ms: ready.latencyMs,
    });
    const required = new Map(readyModels.map((m) => [m.name, m.required !== false]));

    // 3. Metrics: a server Prometheus cannot scrape is blind, which the alerts then miss.
    const metrics = await request(`${base}/metrics`, timeoutMs);
    const exposition = typeof metrics.body === 'string' && /^# (HELP|TYPE) /m.test(metrics.body);
    checks.push({
      name: 'metrics',
      status: metrics.status === 200 && exposition ? 'pass' : 'fail',
      detail: metrics.status === 200 && exposition ? 'GET /metrics -> 200, Prometheus text format' : `GET /metrics -> ${metrics.status}${exposition ? '' : ', not Prometheus text format'}`,
      latency_ms: metrics.latencyMs,
    });

    // 4. Every model: expected answers where we know them, shape otherwise.
    const listed = await request(`${base}/v1/models`, timeoutMs);
    const models = ((listed.body as { models?: ModelInfo[] })?.models ?? []) as ModelInfo[];
    if (listed.status !== 200 || models.length === 0) {
      checks.push({ name: 'models', status: 'fail', detail: `GET /v1/models -> ${listed.status} with ${models.length} models` });
      return report(true);
    }
    for (const name of Object.keys(options.expectations?.models ?? {})) {
      if (!models.some((m) => m.name === name)) checks.push({ name: `model ${name}`, model: name, status: 'fail', detail: 'named in the expectations file but not served' });
    }
    let deep: Map<string, { ok?: boolean; prediction?: unknown; error?: string }> | undefined;
    for (const model of models) {
      // A remote model's outage is reported, not fatal, as /ready itself treats it.
      const failStatus: CheckStatus = required.get(model.name) === false ? 'warn' : 'fail';
      const { kind, cases, why } = casesFor(model, options.expectations);
      if (cases.length === 0) {
        deep ??= await deepHealth(base, timeoutMs);
        const probe = deep.get(model.name);
        const problem = !probe ? 'absent from /health?deep=1' : !probe.ok ? `deep health failed: ${probe.error ?? 'unknown'}` : shapeProblem(probe.prediction, model);
        checks.push({ name: `model ${model.name}`, model: model.name, kind, status: problem ? failStatus : 'pass', detail: problem ?? `deep health prediction has the right form (${why})` });
        continue;
      }
      for (const c of cases) {
        const answer = await request(`${base}/v1/models/${encodeURIComponent(model.name)}/predict`, timeoutMs, c.input);
        const problem = answer.status !== 200 ? `POST predict -> ${answer.status}: ${JSON.stringify(answer.body).slice(0, 200)}` : judge(answer.body, c, kind === 'shape-only');
        const got = (answer.body as { label?: string; value?: number })?.label ?? (answer.body as { value?: number })?.value;
        checks.push({
          name: `model ${model.name}: ${describeInput(c)}`,
          model: model.name,
          kind,
          status: problem ? failStatus : 'pass',
          detail: problem ?? (kind === 'expected' ? `answered ${String(got)} as expected (${why})` : `answered ${String(got)}; form checked only (${why})`),
          latency_ms: answer.latencyMs,
        });
      }
    }
  } catch (error) {
    // The server answered /alive, then stopped answering: that is a failed check, not "unreachable".
    checks.push({ name: 'requests', status: 'fail', detail: (error as Error).message });
  }
  return report(true);
}

async function waitAlive(base: string, timeoutMs: number, waitMs: number): Promise<HttpAnswer> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      return await request(`${base}/alive`, timeoutMs);
    } catch (error) {
      if (Date.now() >= deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
}

async function deepHealth(base: string, timeoutMs: number) {
  const answer = await request(`${base}/health?deep=1`, timeoutMs);
  const checks = ((answer.body as { checks?: { name: string; ok?: boolean; prediction?: unknown; error?: string }[] })?.checks ?? []);
  return new Map(checks.map((c) => [c.name, c]));
}

/** A prediction of the server's own sample input has the form its task promises. */
function shapeProblem(prediction: unknown, model: ModelInfo): string | undefined {
  if (typeof prediction !== 'object' || prediction === null) return 'deep health returned no prediction';
  const p = prediction as { label?: unknown; value?: unknown; text?: unknown };
  switch (model.task) {
    case 'tabular-regression':
      return typeof p.value === 'number' && Number.isFinite(p.value) ? undefined : `expected a numeric value, got ${JSON.stringify(p.value)}`;
    case 'text-generation':
      return typeof p.text === 'string' ? undefined : 'expected generated text';
    default:
      if (typeof p.label !== 'string') return `expected a label, got ${JSON.stringify(p.label)}`;
      if (model.labels && model.labels.length > 0 && !model.labels.includes(p.label)) return `label ${p.label} is not one of ${model.labels.join('/')}`;
      return undefined;
  }
}

/** Human-readable report, one line per check. */
export function formatReport(report: SmokeReport): string {
  const mark: Record<CheckStatus, string> = { pass: 'ok  ', fail: 'FAIL', warn: 'warn' };
  const lines = report.checks.map((c) => `${mark[c.status]} ${c.name}${c.kind === 'shape-only' ? ' [shape-only]' : ''} - ${c.detail}`);
  const verdict = !report.reachable ? 'UNREACHABLE' : report.healthy ? 'HEALTHY' : 'UNHEALTHY';
  return `${lines.join('\n')}\n${verdict}: ${report.url} (${report.duration_ms} ms)`;
}

/** "500ms", "10s", "5m", "1h" or a bare number of milliseconds. */
export function parseDuration(raw: string, what: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(raw.trim());
  if (!match) throw new Error(`${what} must be a duration like 500ms, 10s, 5m or 1h, got "${raw}"`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(match[2] ?? 'ms') as 'ms' | 's' | 'm' | 'h'];
  return Math.round(Number(match[1]) * unit);
}
