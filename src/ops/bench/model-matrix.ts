/**
 * Every embedded model against what a user would write without Vigil, at 1 and 32 connections,
 * plus Vigil with its observability off (no metrics, request logs, prediction log or drift), so
 * that what the observability costs is a number. All servers stay up for the whole section
 * and the runs are interleaved (model by model, repeat by repeat), so background load drifts
 * over every contender alike.
 *
 * The alternative per task: a transformers.js text-classification pipeline called per request
 * (alternative-server.ts) for the text models, one onnxruntime-node session called per request
 * (alternative-onnx-server.ts) for the image and tabular ones.
 */
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PACKAGE_ROOT } from '../../config/serve-config.js';
import { runLoad, textBodies, type LoadResult } from './load.js';
import { ProcessSampler, type ProcessUsage } from './proc.js';
import { startHelper, startVigil, type StartedServer } from './spawn.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const TEXT_ALTERNATIVE = path.join(here, 'alternative-server.js');
const ONNX_ALTERNATIVE = path.join(here, 'alternative-onnx-server.js');
const EMBEDDED = path.join(PACKAGE_ROOT, 'models');

/** The flags that turn Vigil's observability off, for the bare row. */
export const OBSERVABILITY_OFF = ['--observability', 'off'];

export interface MatrixSettings {
  repeats: number;
  duration: number;
  warmup: number;
  connections: number[];
}

export interface MatrixCell {
  requestsPerSecond: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
  /** Server process CPU (100 = one core) and peak RSS, medians over the repeats. */
  cpuPercent?: number;
  /** Requests/s of each repeat. */
  all: number[];
}

export interface MatrixRow {
  model: string;
  connections: number;
  vigil: MatrixCell;
  bare: MatrixCell;
  alternative: MatrixCell;
}

interface Contender {
  name: 'vigil' | 'bare' | 'alternative';
  server: StartedServer;
  path: (model: string) => string;
}

const median = (values: number[]): number => {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

function cell(rows: (LoadResult & { usage?: ProcessUsage })[]): MatrixCell {
  return {
    requestsPerSecond: median(rows.map((r) => r.requestsPerSecond)),
    p50: median(rows.map((r) => r.latencyMs.p50)),
    p99: median(rows.map((r) => r.latencyMs.p99)),
    non2xx: rows.reduce((s, r) => s + r.non2xx, 0),
    errors: rows.reduce((s, r) => s + r.errors, 0),
    cpuPercent: median(rows.flatMap((r) => (r.usage ? [r.usage.cpuPercent] : []))),
    all: rows.map((r) => r.requestsPerSecond),
  };
}

/** A deterministic digit-like image: a few bright strokes on black, as MNIST bodies are. */
function digitBodies(count: number): string[] {
  let seed = 7;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  return Array.from({ length: count }, () => {
    const pixels = new Array<number>(784).fill(0);
    for (let stroke = 0; stroke < 4; stroke++) {
      let x = 6 + Math.floor(random() * 16);
      let y = 4 + Math.floor(random() * 20);
      for (let step = 0; step < 12; step++) {
        pixels[y * 28 + x] = Number((0.6 + 0.4 * random()).toFixed(3));
        x = Math.min(27, Math.max(0, x + Math.round(random() * 2 - 1)));
        y = Math.min(27, Math.max(0, y + 1));
      }
    }
    return JSON.stringify({ pixels });
  });
}

/** The spec's example reading, each feature moved a little, as a stream of hourly readings is. */
function airQualityBodies(count: number): string[] {
  const spec = JSON.parse(readFileSync(path.join(EMBEDDED, 'air-quality', '1', 'vigil.model.json'), 'utf8')) as {
    preprocessing: { example: { features: Record<string, number> } };
  };
  const example = spec.preprocessing.example.features;
  return Array.from({ length: count }, (_, i) => {
    const features = Object.fromEntries(Object.entries(example).map(([name, value], j) => [name, name === 'hour' ? (value + i) % 24 : name === 'dayOfWeek' ? value : Number((value * (1 + 0.01 * (((i + j) % 7) - 3))).toFixed(3))]));
    return JSON.stringify({ features });
  });
}

/** A text model folder in the layout transformers.js reads (Vigil's folders have no config.json). */
export function transformersCopy(versionDir: string, into: string): string {
  const dir = path.join(into, `${path.basename(path.dirname(versionDir))}-hf`);
  mkdirSync(path.join(dir, 'onnx'), { recursive: true });
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) cpSync(path.join(versionDir, f), path.join(dir, f));
  const spec = JSON.parse(readFileSync(path.join(versionDir, 'vigil.model.json'), 'utf8')) as { labels: string[]; onnx: { file: string } };
  cpSync(path.join(versionDir, spec.onnx.file), path.join(dir, 'onnx', 'model.onnx'));
  const id2label = Object.fromEntries(spec.labels.map((l, i) => [String(i), l]));
  const label2id = Object.fromEntries(spec.labels.map((l, i) => [l, i]));
  // model_type distilbert: transformers.js feeds input_ids + attention_mask, which is what these graphs take.
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ model_type: 'distilbert', architectures: ['DistilBertForSequenceClassification'], id2label, label2id }));
  return dir;
}

interface ModelCase {
  model: string;
  bodies: string[];
  startAlternative(tmp: string): Promise<StartedServer>;
}

function cases(texts: string[]): ModelCase[] {
  const text = (model: string): ModelCase => ({
    model,
    bodies: textBodies(texts),
    startAlternative: (tmp) => startHelper(TEXT_ALTERNATIVE, [transformersCopy(path.join(EMBEDDED, model, '1'), tmp), 'fp32']),
  });
  const onnx = (model: string, bodies: string[]): ModelCase => ({ model, bodies, startAlternative: () => startHelper(ONNX_ALTERNATIVE, [path.join(EMBEDDED, model, '1')]) });
  return [text('sentiment'), text('spam'), onnx('digits', digitBodies(64)), onnx('air-quality', airQualityBodies(64))];
}

async function measure(contender: Contender, model: string, bodies: string[], connections: number, duration: number) {
  const sampler = new ProcessSampler(contender.server.pid);
  sampler.start();
  const result = await runLoad({ url: contender.server.url, path: contender.path(model), bodies, connections, durationSeconds: duration });
  const usage = sampler.stop();
  return { ...result, ...(usage ? { usage } : {}) };
}

/** The whole section: one Vigil (all embedded models), one bare Vigil, and one alternative per model. */
export async function modelMatrix(texts: string[], settings: MatrixSettings, tmp: string, log: (message: string) => void): Promise<MatrixRow[]> {
  const started: StartedServer[] = [];
  const vigilPath = (model: string) => `/v1/models/${model}/predict`;
  try {
    const vigil: Contender = { name: 'vigil', server: await startVigil([]), path: vigilPath };
    started.push(vigil.server);
    const bare: Contender = { name: 'bare', server: await startVigil(OBSERVABILITY_OFF), path: vigilPath };
    started.push(bare.server);
    const rows: MatrixRow[] = [];
    for (const c of cases(texts)) {
      log(`models: ${c.model}, Vigil / observability off / alternative at ${settings.connections.join(' and ')} connections`);
      const alternative: Contender = { name: 'alternative', server: await c.startAlternative(tmp), path: () => '/predict' };
      started.push(alternative.server);
      const contenders = [vigil, bare, alternative];
      const results = new Map<string, (LoadResult & { usage?: ProcessUsage })[]>();
      try {
        for (const contender of contenders) await runLoad({ url: contender.server.url, path: contender.path(c.model), bodies: c.bodies, connections: 32, durationSeconds: settings.warmup });
        for (let r = 0; r < settings.repeats; r++) {
          for (const connections of settings.connections) {
            for (const contender of contenders) {
              const key = `${contender.name}:${connections}`;
              results.set(key, [...(results.get(key) ?? []), await measure(contender, c.model, c.bodies, connections, settings.duration)]);
            }
          }
        }
      } finally {
        await alternative.server.stop();
        started.pop();
      }
      for (const connections of settings.connections) {
        const of = (name: Contender['name']) => cell(results.get(`${name}:${connections}`)!);
        rows.push({ model: c.model, connections, vigil: of('vigil'), bare: of('bare'), alternative: of('alternative') });
      }
    }
    return rows;
  } finally {
    await Promise.all(started.map((s) => s.stop()));
  }
}

const f0 = (n: number) => (Number.isFinite(n) ? n.toFixed(0) : 'n/a');
const f2 = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : 'n/a');

/** The section's table: requests/s, p99 and the two ratios the targets are judged on. */
export function renderMatrix(rows: MatrixRow[]): string[] {
  const lines = [
    '| model | connections | Vigil req/s (p99 ms) | observability off req/s (p99 ms) | alternative req/s (p99 ms) | Vigil / alternative | Vigil / observability off |',
    '|---|---|---|---|---|---|---|',
  ];
  for (const row of rows) {
    const cellText = (c: MatrixCell) => `${f0(c.requestsPerSecond)} (${f2(c.p99)})${c.non2xx + c.errors > 0 ? ` [${c.non2xx} non-2xx, ${c.errors} errors]` : ''}`;
    lines.push(
      `| ${row.model} | ${row.connections} | ${cellText(row.vigil)} | ${cellText(row.bare)} | ${cellText(row.alternative)} | ${f2(row.vigil.requestsPerSecond / row.alternative.requestsPerSecond)}x | ${f2(row.vigil.requestsPerSecond / row.bare.requestsPerSecond)} |`,
    );
  }
  return lines;
}
