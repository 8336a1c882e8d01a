/**
 * The standard benchmark suite (`npm run bench`): every comparison in one run, on one machine,
 * with the same texts. Writes bench/RESULTS.md and bench/results.json.
 *
 *   (1) engine ceiling: onnxruntime-node alone in a loop (no HTTP), batch 1/8/32, thread layouts
 *   (2) Vigil serving each model at concurrency 1, 8, 32, 64 (+ p99 at half its best throughput)
 *   (3) the alternative: fastify + a transformers.js pipeline called per request, same load
 *   (4) the HTTP ceiling: fastify answering a constant, with the same prom-client histogram
 *   (5) cold start (spawn to /ready 200) and RSS per model
 *   (6) the batching settings Vigil's defaults were chosen from, side by side
 *   (7) every embedded model: Vigil, Vigil with observability off, and the alternative a user
 *       would write for that task, at 1 and 32 connections (model-matrix.ts)
 *
 * Every figure is the median of `repeats` runs, interleaved so that background load drifts
 * over all contenders alike.
 *
 *   node dist/ops/bench/suite.js [--quick] [--repeats N] [--duration S] [--out FILE] [--skip-tuning] [--skip-models] [--models-only]
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { PACKAGE_ROOT } from '../../config/serve-config.js';
import { engineLoop, type EngineLoopResult } from './engine.js';
import { openLoop, runLoad, sequentialLatency, textBodies, type LoadResult } from './load.js';
import { machineInfo } from './machine.js';
import { modelMatrix, renderMatrix, transformersCopy, type MatrixRow } from './model-matrix.js';
import { ProcessSampler, rssMiB, type ProcessUsage } from './proc.js';
import { startHelper, startVigil, type StartedServer } from './spawn.js';
import { loadTexts } from './texts.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const ALTERNATIVE = path.join(here, 'alternative-server.js');
const CEILING = path.join(here, 'ceiling-server.js');
const DISTILBERT = path.resolve(PACKAGE_ROOT, '..', 'shared', 'models', 'distilbert-arch-random');
const SENTIMENT = path.join(PACKAGE_ROOT, 'models', 'sentiment', '1');

interface ModelUnderTest {
  key: string;
  title: string;
  /** Vigil's model name and the flags that make `vigil serve` serve it. */
  vigilName: string;
  vigilArgs: string[];
  onnxFile: string;
  tokenizerDir: string;
  /** Hugging Face layout folder for the transformers.js alternative, and its dtype. */
  hfFolder: string;
  dtype: 'q8' | 'fp32';
}

interface Settings {
  quick: boolean;
  repeats: number;
  duration: number;
  warmup: number;
  concurrency: number[];
  engineDuration: number;
  /** Sequential requests for the single-request latency. */
  singleCount: number;
}

interface LoadRow extends LoadResult {
  server?: ProcessUsage;
}

/** Medians of repeated load runs at one setting. */
interface LoadSummary {
  connections: number;
  rate?: number;
  repeats: number;
  requestsPerSecond: number;
  p50: number;
  p90: number;
  p99: number;
  errors: number;
  non2xx: number;
  cpuPercent?: number;
  peakRssMiB?: number;
  /** Requests/s of each repeat, to show the spread. */
  all: number[];
}

interface StageProfile {
  /** Mean milliseconds per input in each stage, from Vigil's own histograms. */
  stagesMs: Record<string, number>;
  meanBatchSize: number;
  httpMeanMs: number;
}

const median = (values: number[]): number => {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

function summarize(rows: LoadRow[]): LoadSummary {
  const first = rows[0]!;
  const usage = rows.map((r) => r.server).filter((u): u is ProcessUsage => u !== undefined);
  return {
    connections: first.connections,
    repeats: rows.length,
    requestsPerSecond: median(rows.map((r) => r.requestsPerSecond)),
    p50: median(rows.map((r) => r.latencyMs.p50)),
    p90: median(rows.map((r) => r.latencyMs.p90)),
    p99: median(rows.map((r) => r.latencyMs.p99)),
    errors: rows.reduce((s, r) => s + r.errors, 0),
    non2xx: rows.reduce((s, r) => s + r.non2xx, 0),
    cpuPercent: usage.length ? median(usage.map((u) => u.cpuPercent)) : undefined,
    peakRssMiB: usage.length ? Math.max(...usage.map((u) => u.peakRssMiB)) : undefined,
    all: rows.map((r) => r.requestsPerSecond),
  };
}

function log(message: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

async function loadRuns(server: StartedServer, urlPath: string, bodies: string[], connections: number, settings: Settings, rate?: number): Promise<LoadRow> {
  const sampler = new ProcessSampler(server.pid);
  sampler.start();
  const result = await runLoad({ url: server.url, path: urlPath, bodies, connections, durationSeconds: settings.duration, overallRate: rate });
  const usage = sampler.stop();
  return { ...result, ...(usage ? { server: usage } : {}) };
}

/** Evenly spaced open-loop load at `rate` requests/s, with the server's CPU and RSS. */
async function openLoopRow(server: StartedServer, urlPath: string, bodies: string[], rate: number, settings: Settings): Promise<LoadRow> {
  const sampler = new ProcessSampler(server.pid);
  sampler.start();
  const r = await openLoop({ url: server.url, path: urlPath, bodies, rate, durationSeconds: settings.duration });
  const usage = sampler.stop();
  return {
    connections: 0,
    durationSeconds: settings.duration,
    requestsPerSecond: r.requestsPerSecond,
    inputsPerSecond: r.requestsPerSecond,
    latencyMs: r.latencyMs,
    requests: r.sent,
    errors: r.failures,
    non2xx: 0,
    statusCodes: {},
    ...(usage ? { server: usage } : {}),
  };
}

/** Concurrency sweep, repeats interleaved: c1 c8 c32 c64, c1 c8 c32 c64, ... */
async function sweep(server: StartedServer, urlPath: string, bodies: string[], settings: Settings): Promise<LoadSummary[]> {
  await runLoad({ url: server.url, path: urlPath, bodies, connections: 32, durationSeconds: settings.warmup });
  const rows = new Map<number, LoadRow[]>();
  for (let r = 0; r < settings.repeats; r++) {
    for (const c of settings.concurrency) {
      const row = await loadRuns(server, urlPath, bodies, c, settings);
      rows.set(c, [...(rows.get(c) ?? []), row]);
    }
  }
  return settings.concurrency.map((c) => summarize(rows.get(c)!));
}

async function scrapeProfile(url: string, model: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^(vigil_inference_stage_duration_seconds|vigil_batch_size|http_request_duration_seconds)_(sum|count)\{([^}]*)\} (\S+)$/.exec(line);
    if (!m) continue;
    const labels = m[3]!;
    if (m[1] !== 'http_request_duration_seconds' && !labels.includes(`model="${model}"`)) continue;
    if (m[1] === 'http_request_duration_seconds' && !labels.includes('predict')) continue;
    const stage = /stage="([^"]+)"/.exec(labels)?.[1] ?? '';
    const key = `${m[1]}${stage ? `:${stage}` : ''}_${m[2]}`;
    values.set(key, (values.get(key) ?? 0) + Number(m[4]));
  }
  return values;
}

function profileBetween(before: Map<string, number>, after: Map<string, number>): StageProfile {
  const delta = (key: string) => (after.get(key) ?? 0) - (before.get(key) ?? 0);
  const stagesMs: Record<string, number> = {};
  for (const stage of ['preprocess', 'queue', 'infer', 'postprocess']) {
    const count = delta(`vigil_inference_stage_duration_seconds:${stage}_count`);
    stagesMs[stage] = count > 0 ? (1000 * delta(`vigil_inference_stage_duration_seconds:${stage}_sum`)) / count : NaN;
  }
  const batches = delta('vigil_batch_size_count');
  const httpCount = delta('http_request_duration_seconds_count');
  return {
    stagesMs,
    meanBatchSize: batches > 0 ? delta('vigil_batch_size_sum') / batches : NaN,
    httpMeanMs: httpCount > 0 ? (1000 * delta('http_request_duration_seconds_sum')) / httpCount : NaN,
  };
}

async function coldStart(start: () => Promise<StartedServer>, repeats: number): Promise<{ ms: number; idleRssMiB: number; all: number[] }> {
  const times: number[] = [];
  const rss: number[] = [];
  for (let r = 0; r < repeats; r++) {
    const server = await start();
    times.push(server.coldStartMs);
    try {
      rss.push(rssMiB(server.pid));
    } catch {
      // not Linux
    }
    await server.stop();
  }
  return { ms: median(times), idleRssMiB: median(rss), all: times };
}

type SingleLatency = Awaited<ReturnType<typeof sequentialLatency>>;

interface ModelResults {
  model: ModelUnderTest;
  /** One request at a time, sub-millisecond timing: the single-request latency. */
  vigilSingle: SingleLatency;
  alternativeSingle: SingleLatency;
  engine: EngineLoopResult[];
  vigil: LoadSummary[];
  vigilBatching: unknown;
  vigilProfile?: StageProfile;
  halfLoad?: LoadSummary;
  alternative: LoadSummary[];
  /** Each start with an empty compile cache of its own: what a first start after a build or deploy costs. */
  vigilCold: { ms: number; idleRssMiB: number; all: number[] };
  /** Starts sharing one compile cache that a first start filled: what a restart costs. */
  vigilRestart: { ms: number; idleRssMiB: number; all: number[] };
  alternativeCold: { ms: number; idleRssMiB: number; all: number[] };
}

interface TuningRow {
  label: string;
  args: string[];
  summary: LoadSummary;
  profile?: StageProfile;
  /** Requests sent one at a time (p50 of each repeat, median of the repeats). */
  singleP50?: number;
  /** The open loop at half of each repeat's own concurrency-32 throughput. */
  halfLoad?: LoadSummary;
}

async function benchModel(model: ModelUnderTest, texts: string[], settings: Settings): Promise<ModelResults> {
  const bodies = textBodies(texts);
  const urlPath = `/v1/models/${model.vigilName}/predict`;

  log(`${model.key}: engine ceiling`);
  const engine: EngineLoopResult[] = [];
  for (const batch of [1, 8, 32]) {
    for (const [threads, sessions] of [
      [1, 1],
      [2, 1],
      [1, 2],
    ] as const) {
      engine.push(
        await engineLoop({ modelFile: model.onnxFile, tokenizerDir: model.tokenizerDir, texts, batch, threads, sessions, durationSeconds: settings.engineDuration, repeats: settings.repeats }),
      );
    }
  }

  log(`${model.key}: Vigil, concurrency ${settings.concurrency.join('/')}`);
  const vigilServer = await startVigil(model.vigilArgs);
  let vigil: LoadSummary[];
  let vigilBatching: unknown;
  let vigilProfile: StageProfile | undefined;
  let halfLoad: LoadSummary | undefined;
  let vigilSingle: SingleLatency;
  try {
    vigilBatching = ((await (await fetch(`${vigilServer.url}/v1/models/${model.vigilName}`)).json()) as { batching?: unknown }).batching;
    await sequentialLatency({ url: vigilServer.url, path: urlPath, bodies, count: 20 });
    vigilSingle = await sequentialLatency({ url: vigilServer.url, path: urlPath, bodies, count: settings.singleCount });
    const before = await scrapeProfile(vigilServer.url, model.vigilName);
    vigil = await sweep(vigilServer, urlPath, bodies, settings);
    vigilProfile = profileBetween(before, await scrapeProfile(vigilServer.url, model.vigilName));
    // p99 at half the best throughput (open loop at that rate), against single-request latency.
    const best = Math.max(...vigil.map((v) => v.requestsPerSecond));
    const rate = Math.max(1, Math.round(best / 2));
    log(`${model.key}: Vigil at half its best throughput (${rate} req/s)`);
    const rows: LoadRow[] = [];
    for (let r = 0; r < settings.repeats; r++) rows.push(await openLoopRow(vigilServer, urlPath, bodies, rate, settings));
    halfLoad = { ...summarize(rows), rate };
  } finally {
    await vigilServer.stop();
  }

  log(`${model.key}: the alternative (fastify + transformers.js pipeline per request)`);
  const altServer = await startHelper(ALTERNATIVE, [model.hfFolder, model.dtype]);
  let alternative: LoadSummary[];
  let alternativeSingle: SingleLatency;
  try {
    await sequentialLatency({ url: altServer.url, path: '/predict', bodies, count: 20 });
    alternativeSingle = await sequentialLatency({ url: altServer.url, path: '/predict', bodies, count: settings.singleCount });
    alternative = await sweep(altServer, '/predict', bodies, settings);
  } finally {
    await altServer.stop();
  }

  log(`${model.key}: cold starts`);
  // Node's compile cache (src/cli/main.ts) makes a restart cheaper than a first start: both are timed.
  const caches = mkdtempSync(path.join(os.tmpdir(), 'vigil-compile-cache-'));
  let vigilCold: ModelResults['vigilCold'];
  let vigilRestart: ModelResults['vigilRestart'];
  try {
    let fresh = 0;
    vigilCold = await coldStart(() => startVigil(model.vigilArgs, { NODE_COMPILE_CACHE: path.join(caches, `empty-${fresh++}`) }), settings.repeats);
    const shared = { NODE_COMPILE_CACHE: path.join(caches, 'shared') };
    await (await startVigil(model.vigilArgs, shared)).stop();
    vigilRestart = await coldStart(() => startVigil(model.vigilArgs, shared), settings.repeats);
  } finally {
    rmSync(caches, { recursive: true, force: true });
  }
  const alternativeCold = await coldStart(() => startHelper(ALTERNATIVE, [model.hfFolder, model.dtype]), settings.repeats);
  return { model, vigilSingle, alternativeSingle, engine, vigil, vigilBatching, vigilProfile, halfLoad, alternative, vigilCold, vigilRestart, alternativeCold };
}

/**
 * Vigil at concurrency 32 under the batching settings the defaults were chosen from, and each
 * layout's tail at half of its own throughput against its own single request: a layout that runs
 * more requests at once changes both.
 */
async function tuning(model: ModelUnderTest, texts: string[], settings: Settings): Promise<TuningRow[]> {
  const variants: { label: string; args: string[] }[] = [
    { label: 'defaults', args: [] },
    { label: 'bucketing off', args: ['--bucketing', 'off'] },
    { label: 'max batch 32', args: ['--max-batch-size', '32'] },
    { label: 'max delay 2 ms', args: ['--max-delay-ms', '2'] },
    { label: '1 session x 1 thread', args: ['--sessions', '1', '--threads', '1'] },
    { label: '2 sessions x 1 thread', args: ['--sessions', '2', '--threads', '1'] },
  ];
  const bodies = textBodies(texts);
  const urlPath = `/v1/models/${model.vigilName}/predict`;
  const rows = new Map<string, { rows: LoadRow[]; profile?: StageProfile; singles: number[]; halves: LoadRow[] }>();
  // Repeats interleaved across variants; each variant gets a fresh server per repeat.
  for (let r = 0; r < settings.repeats; r++) {
    for (const v of variants) {
      const server = await startVigil([...model.vigilArgs, ...v.args]);
      try {
        await runLoad({ url: server.url, path: urlPath, bodies, connections: 32, durationSeconds: settings.warmup });
        const before = await scrapeProfile(server.url, model.vigilName);
        const row = await loadRuns(server, urlPath, bodies, 32, settings);
        const profile = profileBetween(before, await scrapeProfile(server.url, model.vigilName));
        const single = await sequentialLatency({ url: server.url, path: urlPath, bodies, count: settings.singleCount });
        const rate = Math.max(1, Math.round(row.requestsPerSecond / 2));
        const half = await openLoopRow(server, urlPath, bodies, rate, settings);
        const entry = rows.get(v.label) ?? { rows: [], singles: [], halves: [] };
        entry.rows.push(row);
        entry.profile = profile;
        entry.singles.push(single.p50);
        entry.halves.push(half);
        rows.set(v.label, entry);
      } finally {
        await server.stop();
      }
    }
  }
  return variants.map((v) => {
    const entry = rows.get(v.label)!;
    return { label: v.label, args: v.args, summary: summarize(entry.rows), profile: entry.profile, singleP50: median(entry.singles), halfLoad: summarize(entry.halves) };
  });
}

// ---------------------------------------------------------------------------------------------
// Report

const f0 = (n: number | undefined) => (n === undefined || !Number.isFinite(n) ? '–' : n.toFixed(0));
const f1 = (n: number | undefined) => (n === undefined || !Number.isFinite(n) ? '–' : n.toFixed(1));
const f2 = (n: number | undefined) => (n === undefined || !Number.isFinite(n) ? '–' : n.toFixed(2));
const ratio = (a: number, b: number) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(2)}x` : '–');

function bestEngine(engine: EngineLoopResult[], batches: number[]): EngineLoopResult {
  return engine.filter((e) => batches.includes(e.batch)).reduce((best, e) => (e.inputsPerSecond > best.inputsPerSecond ? e : best));
}

interface Target {
  what: string;
  goal: string;
  measured: string;
  met: boolean | undefined;
  note: string;
}

function targets(results: ModelResults[], ceiling: LoadSummary[] | undefined, matrix: MatrixRow[] | undefined, ceilingHalfLoad: SuiteData['ceilingHalfLoad'] = {}): Target[] {
  const out: Target[] = [];
  for (const row of matrix ?? []) {
    const versus = row.vigil.requestsPerSecond / row.alternative.requestsPerSecond;
    if (row.model === 'sentiment' && (row.connections === 32 || row.connections === 1)) {
      const goal = row.connections === 32 ? 2 : 1;
      out.push({
        what: `Embedded sentiment via Vigil vs the per-request alternative at ${row.connections} connection(s)`,
        goal: `>= ${goal.toFixed(1)}x`,
        measured: `${f0(row.vigil.requestsPerSecond)} vs ${f0(row.alternative.requestsPerSecond)} req/s (${f2(versus)}x)`,
        met: versus >= goal,
        note: versus >= goal ? '' : `missed: needs ${f0(goal * row.alternative.requestsPerSecond)} req/s`,
      });
    }
    if (row.connections === 32) {
      const kept = row.vigil.requestsPerSecond / row.bare.requestsPerSecond;
      out.push({
        what: `${row.model}: throughput with observability (metrics, logs, prediction log, drift) vs without, 32 connections`,
        goal: '>= 0.90 (costs <= 10%)',
        measured: `${f0(row.vigil.requestsPerSecond)} vs ${f0(row.bare.requestsPerSecond)} req/s (${f2(kept)})`,
        met: kept >= 0.9,
        note: kept >= 0.9 ? '' : `observability costs ${f0(100 * (1 - kept))}%`,
      });
    }
  }
  const at = (rows: LoadSummary[], c: number) => rows.find((r) => r.connections === c);
  const distil = results.find((r) => r.model.key === 'distilbert');
  if (distil) {
    const v32 = at(distil.vigil, 32);
    const a32 = at(distil.alternative, 32);
    const engine = bestEngine(distil.engine, [1, 8, 32]);
    if (v32) {
      out.push({
        what: 'DistilBERT int8 via Vigil at concurrency 32 vs the best engine-ceiling loop',
        goal: '>= 1.00x',
        measured: `${f1(v32.requestsPerSecond)} vs ${f1(engine.inputsPerSecond)} sentences/s (${ratio(v32.requestsPerSecond, engine.inputsPerSecond)}; loop: batch ${engine.batch}, ${engine.sessions} session(s) x ${engine.threads} thread(s))`,
        met: v32.requestsPerSecond >= engine.inputsPerSecond,
        note: v32.requestsPerSecond >= engine.inputsPerSecond ? '' : `missed by ${f1(100 * (1 - v32.requestsPerSecond / engine.inputsPerSecond))}%`,
      });
    }
    if (v32 && a32) {
      out.push({
        what: 'DistilBERT int8 via Vigil at concurrency 32 vs the per-request alternative: throughput',
        goal: '>= 1.5x',
        measured: `${f1(v32.requestsPerSecond)} vs ${f1(a32.requestsPerSecond)} req/s (${ratio(v32.requestsPerSecond, a32.requestsPerSecond)})`,
        met: v32.requestsPerSecond >= 1.5 * a32.requestsPerSecond,
        note: v32.requestsPerSecond >= 1.5 * a32.requestsPerSecond ? '' : `missed: needs ${f1(1.5 * a32.requestsPerSecond)} req/s`,
      });
      out.push({
        what: 'DistilBERT int8 via Vigil at concurrency 32 vs the alternative: p99',
        goal: '<= 0.5x',
        measured: `${f1(v32.p99)} vs ${f1(a32.p99)} ms (${ratio(v32.p99, a32.p99)})`,
        met: v32.p99 <= 0.5 * a32.p99,
        note: v32.p99 <= 0.5 * a32.p99 ? '' : `missed: needs <= ${f1(0.5 * a32.p99)} ms`,
      });
    }
    const peak = Math.max(...distil.vigil.map((v) => v.peakRssMiB ?? 0));
    out.push({
      what: 'RSS of the Vigil process under load, serving DistilBERT',
      goal: '<= 256 MiB',
      measured: `${f0(peak)} MiB peak`,
      met: peak > 0 ? peak <= 256 : undefined,
      note: peak > 256 ? `over by ${f0(peak - 256)} MiB` : '',
    });
  }
  const sentiment = results.find((r) => r.model.key === 'sentiment');
  if (sentiment && ceiling) {
    const best = Math.max(...sentiment.vigil.map((v) => v.requestsPerSecond));
    const top = Math.max(...ceiling.map((v) => v.requestsPerSecond));
    out.push({
      what: "Embedded sentiment via Vigil vs the HTTP ceiling's req/s (best concurrency of each)",
      goal: '>= 25%',
      measured: `${f0(best)} vs ${f0(top)} req/s (${f0((100 * best) / top)}%)`,
      met: best >= 0.25 * top,
      note: best >= 0.25 * top ? '' : `missed by ${f0(25 - (100 * best) / top)} points`,
    });
  }
  for (const r of results) {
    const single = r.vigilSingle;
    if (r.halfLoad && Number.isFinite(single.p50)) {
      const limit = 3 * single.p50;
      const reference = ceilingHalfLoad[r.model.key];
      const context = reference ? `; the HTTP ceiling at the same rate: p99 ${f2(reference.p99)} ms, ${ratio(reference.p99, reference.singleP50)} its own single request` : '';
      out.push({
        what: `${r.model.key}: p99 at half of Vigil's best throughput vs single-request latency (p50 of requests sent one at a time)`,
        goal: '<= 3x',
        measured: `${f1(r.halfLoad.p99)} ms at ${r.halfLoad.rate} req/s vs ${f2(single.p50)} ms (${ratio(r.halfLoad.p99, single.p50)})`,
        met: r.halfLoad.p99 <= limit,
        note: (r.halfLoad.p99 <= limit ? '' : `missed: needs <= ${f1(limit)} ms`) + context,
      });
    }
  }
  if (sentiment) {
    out.push({
      what: 'Cold start of `vigil serve` with the embedded models (spawn to /ready 200, empty compile cache)',
      goal: '< 1000 ms',
      measured: `${f0(sentiment.vigilCold.ms)} ms (a restart, with the cache: ${f0(sentiment.vigilRestart.ms)} ms)`,
      met: sentiment.vigilCold.ms < 1000,
      note: sentiment.vigilCold.ms < 1000 ? '' : `over by ${f0(sentiment.vigilCold.ms - 1000)} ms`,
    });
  }
  return out;
}

function loadTable(rows: { name: string; summary: LoadSummary }[]): string[] {
  const lines = ['| server | conc | req/s (median) | runs | p50 ms | p90 ms | p99 ms | errors | non-2xx | server CPU % | peak RSS MiB |', '|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|'];
  for (const { name, summary: s } of rows) {
    lines.push(
      `| ${name} | ${s.rate ? `open loop, ${s.rate}/s` : s.connections} | ${f1(s.requestsPerSecond)} | ${s.all.map(f0).join(' / ')} | ${f1(s.p50)} | ${f1(s.p90)} | ${f1(s.p99)} | ${s.errors} | ${s.non2xx} | ${f0(s.cpuPercent)} | ${f0(s.peakRssMiB)} |`,
    );
  }
  return lines;
}

function renderMarkdown(data: SuiteData): string {
  const { machine, settings, results, ceiling, tuning: tuned, texts } = data;
  const md: string[] = [];
  md.push('# Vigil benchmark results', '');
  md.push(`Written by \`npm run bench\` (src/ops/bench/suite.ts) on ${data.finishedAt}; ${settings.quick ? '**quick mode** (one short run each: indicative only)' : `median of ${settings.repeats} interleaved runs of ${settings.duration} s each`}. Raw numbers: bench/results.json.`, '');
  md.push('## Machine and settings', '');
  md.push(`- CPU: ${machine.cpus} x ${machine.cpuModel} (${machine.cpuFlags.join(', ') || 'flags unknown'}), ${machine.memoryGiB} GiB, ${machine.platform}`);
  md.push(
    `- Load average (1 min) at start ${machine.loadAverage} (other work on the machine: above ~0.5 the numbers are low and noisy), at end ${data.loadAverageAtEnd} (includes the suite's own load of about 2).`,
  );
  md.push(`- Node ${machine.node}; ${Object.entries(machine.versions).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  md.push(`- Texts: ${texts.count} SST-2 training sentences of ${texts.words.min}-${texts.words.max} words (median ${texts.words.median}), from ${texts.source}; one text per request, bodies sent in turn.`);
  md.push(`- Load: autocannon ${machine.versions.autocannon} in the bench process on the same ${machine.cpus} cores (it takes CPU from every server alike); closed loop (each connection waits for its answer); ${settings.duration} s per run after a ${settings.warmup} s warm-up; latency resolution 1 ms.`);
  md.push('- Vigil: `vigil serve` with its defaults (default log level: one JSON log line per request, metrics on) — the sentiment runs serve every embedded model (`vigil serve`), the DistilBERT runs `--no-embedded --model <folder>`.');
  for (const r of results) md.push(`  - ${r.model.key}: batching ${JSON.stringify(r.vigilBatching)}; sessions/threads: server defaults (1 session; onnxruntime picks intra-op threads = cores)`);
  md.push('- Alternative: fastify 5 + `pipeline(\'text-classification\')` from @huggingface/transformers, `env.allowRemoteModels = false`, local folder, one pipeline call per request (src/ops/bench/alternative-server.ts); DistilBERT with dtype q8, sentiment with fp32 (its only graph) from a temporary Hugging Face-layout copy with a config.json.');
  md.push('- HTTP ceiling: fastify 5 parsing the same body, answering a constant prediction, observing the same prom-client histogram (src/ops/bench/ceiling-server.ts).');
  md.push('- Engine ceiling: onnxruntime-node alone, one worker thread per session, sessions looping back to back on batches of the same tokenized texts in order, padded to the longest text of each batch as Vigil does (src/ops/bench/engine.ts).', '');

  md.push('## Targets', '');
  md.push('| target | goal | measured | met |', '|---|---|---|---|');
  for (const t of data.targets) md.push(`| ${t.what} | ${t.goal} | ${t.measured} | ${t.met === undefined ? '?' : t.met ? 'yes' : `**no** — ${t.note}`} |`);
  md.push('');

  for (const r of results) {
    md.push(`## ${r.model.title}`, '');
    md.push('### (1) Engine ceiling (no HTTP)', '');
    md.push('| batch | sessions x intra-op threads | sentences/s (median) | windows | ms per engine call (p50) | mean padded length |', '|---:|---|---:|---|---:|---:|');
    for (const e of r.engine) md.push(`| ${e.batch} | ${e.sessions} x ${e.threads} | ${f1(e.inputsPerSecond)} | ${e.windows.map(f0).join(' / ')} | ${f2(e.msPerCallP50)} | ${f1(e.meanWidth)} |`);
    const b1 = bestEngine(r.engine, [1]);
    const bBatch = bestEngine(r.engine, [8, 32]);
    md.push('', `Best at batch 1: ${f1(b1.inputsPerSecond)}/s (${b1.sessions} x ${b1.threads}); best of batch 8/32: ${f1(bBatch.inputsPerSecond)}/s (batch ${bBatch.batch}, ${bBatch.sessions} x ${bBatch.threads}).`, '');
    md.push('### (2)-(3) Vigil vs the per-request alternative, same load', '');
    md.push(
      `Single-request latency (${r.vigilSingle.count} requests one at a time on one keep-alive connection, timed to 0.01 ms): Vigil p50 ${f2(r.vigilSingle.p50)} ms, p90 ${f2(r.vigilSingle.p90)} ms, p99 ${f2(r.vigilSingle.p99)} ms; alternative p50 ${f2(r.alternativeSingle.p50)} ms, p90 ${f2(r.alternativeSingle.p90)} ms, p99 ${f2(r.alternativeSingle.p99)} ms. The load tables below come from autocannon, whose latencies are whole milliseconds.`,
      '',
    );
    const rows: { name: string; summary: LoadSummary }[] = [];
    for (const v of r.vigil) {
      rows.push({ name: 'Vigil', summary: v });
      const a = r.alternative.find((x) => x.connections === v.connections);
      if (a) rows.push({ name: 'alternative', summary: a });
    }
    if (r.halfLoad) rows.push({ name: 'Vigil at half its best req/s (evenly spaced arrivals, timed to 0.01 ms)', summary: r.halfLoad });
    md.push(...loadTable(rows), '');
    md.push('| conc | Vigil / alternative req/s | Vigil / alternative p99 | Vigil / best engine loop |', '|---:|---:|---:|---:|');
    const engineBest = bestEngine(r.engine, [1, 8, 32]);
    for (const v of r.vigil) {
      const a = r.alternative.find((x) => x.connections === v.connections);
      md.push(`| ${v.connections} | ${a ? ratio(v.requestsPerSecond, a.requestsPerSecond) : '–'} | ${a ? ratio(v.p99, a.p99) : '–'} | ${ratio(v.requestsPerSecond, engineBest.inputsPerSecond)} |`);
    }
    md.push('');
    if (r.vigilProfile) {
      const p = r.vigilProfile;
      md.push(
        `Where Vigil's time went during the sweep (its own histograms): per input preprocess ${f2(p.stagesMs.preprocess)} ms, queue ${f2(p.stagesMs.queue)} ms, engine call ${f2(p.stagesMs.infer)} ms per batch, postprocess ${f2(p.stagesMs.postprocess)} ms; mean batch ${f1(p.meanBatchSize)} inputs; mean server-side HTTP time ${f2(p.httpMeanMs)} ms.`,
        '',
      );
    }
    md.push('### (5) Cold start and idle RSS', '');
    md.push("A first start compiles everything (each with an empty compile cache of its own); a restart reads what an earlier start of the same build left in Node's compile cache (docs/performance.md, \"Cold start\").", '');
    md.push('| server | spawn to /ready 200, ms (median) | runs | RSS when ready, MiB |', '|---|---:|---|---:|');
    const vigilRow = `Vigil (${r.model.vigilArgs.length ? r.model.vigilArgs.filter((a) => !a.startsWith('/')).join(' ') + ' <folder>' : 'embedded models'})`;
    md.push(`| ${vigilRow}, first start | ${f0(r.vigilCold.ms)} | ${r.vigilCold.all.map(f0).join(' / ')} | ${f0(r.vigilCold.idleRssMiB)} |`);
    md.push(`| ${vigilRow}, restart | ${f0(r.vigilRestart.ms)} | ${r.vigilRestart.all.map(f0).join(' / ')} | ${f0(r.vigilRestart.idleRssMiB)} |`);
    md.push(`| alternative | ${f0(r.alternativeCold.ms)} | ${r.alternativeCold.all.map(f0).join(' / ')} | ${f0(r.alternativeCold.idleRssMiB)} |`, '');
  }

  if (ceiling) {
    md.push('## (4) HTTP ceiling: fastify + prom-client, constant answer', '');
    md.push(...loadTable(ceiling.map((s) => ({ name: 'ceiling', summary: s }))), '');
    const sentiment = results.find((r) => r.model.key === 'sentiment');
    if (sentiment) {
      md.push('| conc | sentiment via Vigil / HTTP ceiling req/s |', '|---:|---:|');
      for (const c of ceiling) {
        const v = sentiment.vigil.find((x) => x.connections === c.connections);
        if (v) md.push(`| ${c.connections} | ${ratio(v.requestsPerSecond, c.requestsPerSecond)} |`);
      }
      md.push('');
    }
  }

  if (data.matrix) {
    md.push('## (7) Every embedded model: Vigil, Vigil with observability off, and the alternative', '');
    md.push(
      'One `vigil serve` with its defaults and one with `--observability off` (no metrics, request logs, prediction log or drift) stay up for the whole section; the alternative for text models is the transformers.js pipeline above, for digits and air-quality one onnxruntime-node session with default options called per request (src/ops/bench/alternative-onnx-server.ts). Runs interleaved contender by contender; median req/s, p99 in ms.',
      '',
    );
    md.push(...renderMatrix(data.matrix), '');
  }

  if (tuned) {
    md.push(`## (6) Batching settings side by side: ${tuned.model} at concurrency 32`, '');
    md.push(
      'Each variant on a fresh server per repeat: concurrency 32, then requests one at a time, then an open loop at half of what that repeat served at 32 (its p99 against its single-request p50: the half-load target of the table above, per layout).',
      '',
    );
    md.push('| variant | flags | req/s (median) | runs | p50 ms | p99 ms | mean batch | engine ms per batch | single request p50 ms | p99 at half its req/s, ms | half-load p99 / single | peak RSS MiB |', '|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const t of tuned.rows) {
      const halfP99 = t.halfLoad?.p99;
      const tail = halfP99 !== undefined && t.singleP50 !== undefined ? ratio(halfP99, t.singleP50) : '–';
      const peak = Math.max(t.summary.peakRssMiB ?? 0, t.halfLoad?.peakRssMiB ?? 0) || undefined;
      md.push(`| ${t.label} | \`${t.args.join(' ') || '(none)'}\` | ${f1(t.summary.requestsPerSecond)} | ${t.summary.all.map(f0).join(' / ')} | ${f1(t.summary.p50)} | ${f1(t.summary.p99)} | ${f1(t.profile?.meanBatchSize)} | ${f1(t.profile?.stagesMs.infer)} | ${f2(t.singleP50)} | ${f1(halfP99)} | ${tail} | ${f0(peak)} |`);
    }
    md.push('');
  }
  md.push(`Suite wall time: ${f0(data.wallSeconds)} s.`, '');
  return md.join('\n');
}

interface SuiteData {
  startedAt: string;
  finishedAt: string;
  wallSeconds: number;
  machine: ReturnType<typeof machineInfo>;
  loadAverageAtEnd: number;
  settings: Settings;
  texts: { source: string; count: number; words: { min: number; median: number; max: number } };
  results: ModelResults[];
  /** Per model: the HTTP ceiling under the same open loop at that model's half-load rate. */
  ceilingHalfLoad?: Record<string, { rate: number; p99: number; singleP50: number }>;
  ceiling?: LoadSummary[];
  tuning?: { model: string; rows: TuningRow[] };
  matrix?: MatrixRow[];
  targets: Target[];
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean' },
      repeats: { type: 'string' },
      duration: { type: 'string' },
      out: { type: 'string' },
      'skip-tuning': { type: 'boolean' },
      'skip-models': { type: 'boolean' },
      'models-only': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log('usage: npm run bench [-- --quick] [--repeats N] [--duration S] [--out bench/RESULTS.md] [--skip-tuning] [--skip-models] [--models-only]');
    return;
  }
  const quick = values.quick === true;
  const settings: Settings = {
    quick,
    repeats: Number(values.repeats ?? (quick ? 1 : 3)),
    duration: Number(values.duration ?? (quick ? 2 : 4)),
    warmup: quick ? 1 : 2,
    concurrency: [1, 8, 32, 64],
    engineDuration: quick ? 1 : 2,
    singleCount: quick ? 100 : 300,
  };
  const out = path.resolve(values.out ?? path.join(PACKAGE_ROOT, 'bench', 'RESULTS.md'));
  const started = performance.now();
  const startedAt = new Date().toISOString();
  const machine = machineInfo();
  log(`machine: ${machine.cpus} x ${machine.cpuModel}, load average ${machine.loadAverage}`);
  const texts = loadTexts(undefined);
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'vigil-bench-'));
  try {
    const models: ModelUnderTest[] = [
      {
        key: 'sentiment',
        title: 'Embedded `sentiment` (fastText-style, fp32, models/sentiment/1)',
        vigilName: 'sentiment',
        vigilArgs: [],
        onnxFile: path.join(SENTIMENT, 'model.onnx'),
        tokenizerDir: SENTIMENT,
        hfFolder: transformersCopy(SENTIMENT, tmp),
        dtype: 'fp32',
      },
    ];
    if (existsSync(path.join(DISTILBERT, 'onnx', 'model_quantized.onnx'))) {
      models.push({
        key: 'distilbert',
        title: '`distilbert-arch-random` (DistilBERT-base architecture, int8, random weights)',
        vigilName: 'distilbert-arch-random',
        vigilArgs: ['--no-embedded', '--model', DISTILBERT],
        onnxFile: path.join(DISTILBERT, 'onnx', 'model_quantized.onnx'),
        tokenizerDir: DISTILBERT,
        hfFolder: DISTILBERT,
        dtype: 'q8',
      });
    } else {
      log(`skipping DistilBERT: ${DISTILBERT} is not present`);
    }

    // --models-only: the HTTP ceiling and section (7), a few minutes instead of the whole suite.
    const modelsOnly = values['models-only'] === true;
    const results: ModelResults[] = [];
    if (!modelsOnly) for (const model of models) results.push(await benchModel(model, texts.texts, settings));

    log('HTTP ceiling');
    const ceilingServer = await startHelper(CEILING, []);
    let ceiling: LoadSummary[];
    const ceilingHalfLoad: SuiteData['ceilingHalfLoad'] = {};
    const ceilingBodies = textBodies(texts.texts);
    try {
      ceiling = await sweep(ceilingServer, '/predict', ceilingBodies, settings);
      // The same evenly spaced arrivals at each model's half-load rate against a server that
      // answers a constant: how much of the half-load tail the generator and the machine make.
      for (const r of results) {
        const rate = r.halfLoad?.rate;
        if (rate === undefined) continue;
        log(`HTTP ceiling at ${r.model.key}'s half-load rate (${rate} req/s)`);
        await sequentialLatency({ url: ceilingServer.url, path: '/predict', bodies: ceilingBodies, count: 20 });
        const single = await sequentialLatency({ url: ceilingServer.url, path: '/predict', bodies: ceilingBodies, count: settings.singleCount });
        const rows: LoadRow[] = [];
        for (let i = 0; i < settings.repeats; i++) rows.push(await openLoopRow(ceilingServer, '/predict', ceilingBodies, rate, settings));
        ceilingHalfLoad[r.model.key] = { rate, p99: summarize(rows).p99, singleP50: single.p50 };
      }
    } finally {
      await ceilingServer.stop();
    }

    let tuned: SuiteData['tuning'];
    if (!values['skip-tuning'] && !modelsOnly) {
      const target = models.find((m) => m.key === 'distilbert') ?? models[0]!;
      log(`batching variants for ${target.key}`);
      tuned = { model: target.key, rows: await tuning(target, texts.texts, settings) };
    }

    let matrix: MatrixRow[] | undefined;
    if (!values['skip-models']) {
      matrix = await modelMatrix(texts.texts, { repeats: settings.repeats, duration: settings.duration, warmup: settings.warmup, connections: [1, 32] }, tmp, log);
    }

    const data: SuiteData = {
      startedAt,
      finishedAt: new Date().toISOString(),
      wallSeconds: (performance.now() - started) / 1000,
      machine,
      loadAverageAtEnd: Number(os.loadavg()[0]!.toFixed(2)),
      settings,
      texts: { source: texts.source, count: texts.texts.length, words: texts.words },
      results,
      ceiling,
      ceilingHalfLoad,
      tuning: tuned,
      matrix,
      targets: [],
    };
    data.targets = targets(results, ceiling, matrix, ceilingHalfLoad);
    mkdirSync(path.dirname(out), { recursive: true });
    writeFileSync(out, renderMarkdown(data));
    writeFileSync(path.join(path.dirname(out), 'results.json'), JSON.stringify(data, null, 2));
    log(`wrote ${out} (${f0(data.wallSeconds)} s)`);
    for (const t of data.targets) log(`${t.met ? 'MET ' : t.met === undefined ? '??? ' : 'MISS'} ${t.what}: ${t.measured}`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
