import { mkdirSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { ModelSpec } from '../models/spec.js';
import { readSpec, runRecord, sha256File, sharedDir, writeArtifacts } from './artifacts.js';
import { loadAirQuality, type AirRow } from './data/air-quality.js';
import { histogram, quantileEdges, regressionMetrics, regressionRecord, round } from './metrics.js';
import { Mlp, ridge } from './mlp.js';
import { GraphBuilder } from './onnx-graph.js';
import { openSession, runDense } from './onnx-run.js';
import type { EvalContext, EvalResult, TrainContext, TrainResult, Trainer } from './types.js';

/** Inputs, in the order of the ONNX `features` tensor. */
export const FEATURES = [
  { name: 'PT08.S1(CO)', unit: 'sensor response (a.u.)', description: 'tin-oxide sensor, nominally CO-targeted (hourly mean)' },
  { name: 'PT08.S2(NMHC)', unit: 'sensor response (a.u.)', description: 'titania sensor, nominally NMHC-targeted (hourly mean)' },
  { name: 'PT08.S3(NOx)', unit: 'sensor response (a.u.)', description: 'tungsten-oxide sensor, nominally NOx-targeted (hourly mean)' },
  { name: 'PT08.S4(NO2)', unit: 'sensor response (a.u.)', description: 'tungsten-oxide sensor, nominally NO2-targeted (hourly mean)' },
  { name: 'PT08.S5(O3)', unit: 'sensor response (a.u.)', description: 'indium-oxide sensor, nominally O3-targeted (hourly mean)' },
  { name: 'T', unit: '°C', description: 'air temperature' },
  { name: 'RH', unit: '%', description: 'relative humidity' },
  { name: 'AH', unit: 'as in the UCI file (absolute humidity)', description: 'absolute humidity' },
  { name: 'hour', unit: 'hour of day, 0-23 (local time)', description: 'start hour of the hourly average' },
  { name: 'dayOfWeek', unit: '0 = Monday ... 6 = Sunday', description: 'day of the week' },
] as const;
const CONTINUOUS = 8; // the first 8 features are standardised; hour and dayOfWeek become sin/cos pairs
const EXPANDED = CONTINUOUS + 4;
export const TARGET = { name: 'CO(GT)', unit: 'mg/m^3', description: 'true hourly averaged CO concentration from the reference analyser' };
const TEST_FRACTION = 0.2;
const TOLERANCE = 0.002;

type Variant = { name: string; kind: 'ridge' | 'mlp'; hidden: number[]; lambda?: number; epochs?: number; lr?: number; weightDecay?: number };
export const VARIANTS: Variant[] = [
  { name: 'ridge regression', kind: 'ridge', hidden: [], lambda: 1e-4 },
  { name: 'MLP 32, 10 epochs', kind: 'mlp', hidden: [32], epochs: 10, lr: 0.003, weightDecay: 1e-4 },
  { name: 'MLP 32, 60 epochs', kind: 'mlp', hidden: [32], epochs: 60, lr: 0.003, weightDecay: 1e-4 },
  { name: 'MLP 64-32, 10 epochs', kind: 'mlp', hidden: [64, 32], epochs: 10, lr: 0.002, weightDecay: 1e-4 },
];

export function defaultData(): string {
  return resolve(sharedDir, 'data', 'air-quality', 'AirQualityUCI.csv');
}

interface Table {
  x: Float32Array;
  y: Float32Array;
  n: number;
  rows: AirRow[];
}

function rawFeatures(r: AirRow): number[] {
  return [...FEATURES.slice(0, CONTINUOUS).map((f) => r.values[f.name]!), r.hour, r.dayOfWeek];
}

function table(rows: AirRow[]): Table {
  const x = new Float32Array(rows.length * FEATURES.length);
  const y = new Float32Array(rows.length);
  rows.forEach((r, i) => {
    x.set(rawFeatures(r), i * FEATURES.length);
    y[i] = r.values[TARGET.name]!;
  });
  return { x, y, n: rows.length, rows };
}

/** Complete rows (target and every feature present), in time order; the last `testFraction` is held out. */
export function chronologicalSplit(all: AirRow[], testFraction: number) {
  const complete = all.filter((r) => Number.isFinite(r.values[TARGET.name]!) && rawFeatures(r).every(Number.isFinite));
  const cut = Math.round(complete.length * (1 - testFraction));
  return { complete, train: complete.slice(0, cut), test: complete.slice(cut) };
}

interface Standardization {
  mean: number[];
  std: number[];
}

function standardization(t: Table): Standardization {
  const F = FEATURES.length;
  const mean: number[] = [];
  const std: number[] = [];
  for (let j = 0; j < CONTINUOUS; j++) {
    let s = 0;
    for (let i = 0; i < t.n; i++) s += t.x[i * F + j]!;
    const m = s / t.n;
    let v = 0;
    for (let i = 0; i < t.n; i++) v += (t.x[i * F + j]! - m) ** 2;
    mean.push(m);
    std.push(Math.sqrt(v / t.n) || 1);
  }
  return { mean, std };
}

/** The same expansion the ONNX graph computes: standardised readings, sin/cos of hour and weekday. */
function expand(t: Table, st: Standardization): Float32Array {
  const F = FEATURES.length;
  const out = new Float32Array(t.n * EXPANDED);
  for (let i = 0; i < t.n; i++) {
    for (let j = 0; j < CONTINUOUS; j++) out[i * EXPANDED + j] = (t.x[i * F + j]! - st.mean[j]!) / st.std[j]!;
    const h = (t.x[i * F + 8]! * 2 * Math.PI) / 24;
    const d = (t.x[i * F + 9]! * 2 * Math.PI) / 7;
    out.set([Math.sin(h), Math.cos(h), Math.sin(d), Math.cos(d)], i * EXPANDED + CONTINUOUS);
  }
  return out;
}

function fit(v: Variant, x: Float32Array, y: Float32Array, seed: number, epochs?: number, log?: (s: string) => void): Mlp {
  const model = new Mlp([EXPANDED, ...v.hidden, 1], seed);
  if (v.kind === 'ridge') {
    const { w, b } = ridge(x, y, EXPANDED, v.lambda ?? 0);
    model.weights[0]!.set(w);
    model.biases[0]![0] = b;
  } else {
    model.train(x, y, {
      epochs: epochs ?? v.epochs!,
      batchSize: 32,
      lr: v.lr!,
      weightDecay: v.weightDecay!,
      seed,
      onEpoch: log ? (e, l) => e % 10 === 0 && log(`  epoch ${e}: mse ${l.toFixed(4)}`) : undefined,
    });
  }
  return model;
}

function mlpPredict(m: Mlp, x: Float32Array): Float32Array {
  return Float32Array.from(m.predict(x), (o) => o[0]!);
}

function toOnnx(m: Mlp, st: Standardization): Uint8Array {
  const g = new GraphBuilder('vigil_air_quality');
  const x = g.input('features', 'float32', ['batch', FEATURES.length]);
  const axis1 = g.ints('axis1', [1], [1]);
  const slice = (a: number, b: number) => g.node('Slice', [x, g.ints(`start${a}`, [1], [a]), g.ints(`end${b}`, [1], [b]), axis1]);
  const z = g.node('Div', [g.node('Sub', [slice(0, CONTINUOUS), g.floats('feature_mean', [CONTINUOUS], st.mean)]), g.floats('feature_std', [CONTINUOUS], st.std)]);
  const hourAngle = g.node('Mul', [slice(8, 9), g.floats('hour_to_radians', [], [(2 * Math.PI) / 24])]);
  const dayAngle = g.node('Mul', [slice(9, 10), g.floats('day_to_radians', [], [(2 * Math.PI) / 7])]);
  let t = g.node('Concat', [z, g.node('Sin', [hourAngle]), g.node('Cos', [hourAngle]), g.node('Sin', [dayAngle]), g.node('Cos', [dayAngle])], { axis: 1 });
  const L = m.weights.length;
  for (let l = 0; l < L; l++) {
    const w = g.floats(`dense${l}.weight`, [m.sizes[l]!, m.sizes[l + 1]!], m.weights[l]!);
    const b = g.floats(`dense${l}.bias`, [m.sizes[l + 1]!], m.biases[l]!);
    const outName = l + 1 === L ? ['prediction'] : undefined;
    t = g.node('Add', [g.node('MatMul', [t, w]), b], {}, outName);
    if (l + 1 < L) t = g.node('Relu', [t]);
  }
  g.output('prediction', 'float32', ['batch', 1]);
  return g.encode('Vigil air-quality CO(GT) regressor; see MODEL_CARD.md');
}

/** Persistence baseline: the target one hour earlier, where that reading exists. */
function previousHour(all: AirRow[], rows: AirRow[]): Array<number | undefined> {
  const byTime = new Map(all.map((r) => [r.time, r]));
  return rows.map((r) => {
    const prev = new Date(Date.parse(`${r.time}:00Z`) - 3600_000).toISOString().slice(0, 16);
    const v = byTime.get(prev)?.values[TARGET.name];
    return v !== undefined && Number.isFinite(v) ? v : undefined;
  });
}

async function train(ctx: TrainContext): Promise<TrainResult> {
  const t0 = performance.now();
  const dataFile = ctx.data ?? defaultData();
  const all = loadAirQuality(dataFile);
  const split = chronologicalSplit(all, TEST_FRACTION);
  const tr = table(split.train);
  const te = table(split.test);
  ctx.log(`air-quality: ${all.length} hourly rows, ${split.complete.length} complete; train ${tr.n} (${split.train[0]!.time} .. ${split.train.at(-1)!.time}), held-out ${te.n} (${split.test[0]!.time} .. ${split.test.at(-1)!.time})`);
  const st = standardization(tr);
  const xTr = expand(tr, st);
  const xTe = expand(te, st);

  // Model choice on a validation tail of the training period (chronological too).
  const vcut = Math.round(tr.n * 0.8);
  const variants: Array<Variant & { validation: Record<string, number> }> = [];
  let chosen = ctx.quick ? VARIANTS[1]! : VARIANTS[0]!;
  if (!ctx.quick) {
    let best = Infinity;
    for (const v of VARIANTS) {
      const m = fit(v, xTr.subarray(0, vcut * EXPANDED), tr.y.subarray(0, vcut), ctx.seed);
      const r = regressionMetrics(tr.y.subarray(vcut), mlpPredict(m, xTr.subarray(vcut * EXPANDED)));
      ctx.log(`  validation: ${v.name.padEnd(22)} MAE ${r.mae.toFixed(4)} RMSE ${r.rmse.toFixed(4)} R^2 ${r.r2.toFixed(4)}`);
      variants.push({ ...v, validation: regressionRecord(r) });
      if (r.rmse < best) {
        best = r.rmse;
        chosen = v;
      }
    }
    ctx.log(`  chosen: ${chosen.name}`);
  }
  const epochs = ctx.epochs ?? (ctx.quick ? 5 : undefined);
  const tTrain = performance.now();
  const model = fit(chosen, xTr, tr.y, ctx.seed, epochs, ctx.log);
  const trainSeconds = (performance.now() - tTrain) / 1000;
  const tsPred = mlpPredict(model, xTe);

  mkdirSync(ctx.out, { recursive: true });
  const onnxFile = resolve(ctx.out, 'model.onnx');
  writeFileSync(onnxFile, toOnnx(model, st));
  const session = await openSession(onnxFile);
  const pred = Float32Array.from(await runDense(session, 'features', te.x, FEATURES.length), (o) => o[0]!);
  await session.release();
  const maxDiff = pred.reduce((m, p, i) => Math.max(m, Math.abs(p - tsPred[i]!)), 0);
  if (maxDiff > 1e-3) throw new Error(`ONNX and TS predictions differ by up to ${maxDiff}`);
  const metrics = regressionRecord(regressionMetrics(te.y, pred));
  ctx.log(`  held-out (${te.n} hours, ONNX): ${JSON.stringify(metrics)}`);

  // Baselines.
  const trainMean = tr.y.reduce((a, b) => a + b, 0) / tr.n;
  const meanBaseline = regressionRecord(regressionMetrics(te.y, new Float32Array(te.n).fill(trainMean)));
  const prev = previousHour(all, split.test);
  const withPrev = prev.map((p, i) => (p === undefined ? -1 : i)).filter((i) => i >= 0);
  const persistence = regressionRecord(regressionMetrics(withPrev.map((i) => te.y[i]!), withPrev.map((i) => prev[i]!)));
  const modelOnPrevSubset = regressionRecord(regressionMetrics(withPrev.map((i) => te.y[i]!), withPrev.map((i) => pred[i]!)));
  ctx.log(`  baselines: training mean ${JSON.stringify(meanBaseline)}; previous hour (n=${withPrev.length}) ${JSON.stringify(persistence)} vs model ${JSON.stringify(modelOnPrevSubset)}`);

  const featureRef: Record<string, unknown> = {};
  FEATURES.forEach((f, j) => {
    const col = Float64Array.from({ length: te.n }, (_, i) => te.x[i * FEATURES.length + j]!);
    const edges = f.name === 'hour' ? [0, 3, 6, 9, 12, 15, 18, 21, 24] : f.name === 'dayOfWeek' ? [0, 1, 2, 3, 4, 5, 6, 7] : quantileEdges(col, 10);
    featureRef[f.name] = histogram(col, edges);
  });
  const spec: ModelSpec = {
    name: 'air-quality',
    version: '1',
    task: 'tabular-regression',
    runtime: 'onnx',
    description: 'Estimates the hourly CO concentration (mg/m^3) from a low-cost metal-oxide multisensor, temperature, humidity and time, i.e. a virtual CO analyser. Trained by Vigil on the UCI Air Quality data.',
    inputs: [{ name: 'features', datatype: 'FP32', shape: [-1, FEATURES.length] }],
    outputs: [{ name: 'prediction', datatype: 'FP32', shape: [-1, 1] }],
    onnx: { file: 'model.onnx' },
    preprocessing: {
      features: FEATURES.map((f, index) => ({ index, ...f, ...(index < CONTINUOUS ? { mean: round(st.mean[index]!, 6), std: round(st.std[index]!, 6) } : {}) })),
      target: TARGET,
      standardization: {
        inGraph: true,
        description: `the graph standardises features 0-${CONTINUOUS - 1} with the training mean/std listed per feature, and turns hour and dayOfWeek into sin/cos of their angle; send raw readings`,
      },
      missing: 'no missing values allowed: every feature must be a finite number (the UCI file marks missing as -200; such rows were dropped)',
      // A real reading for clients to start from (the playground prefills its form with it).
      example: {
        description: 'the first held-out hour, as recorded',
        time: split.test[0]!.time,
        features: Object.fromEntries(FEATURES.map((f, j) => [f.name, round(te.x[j]!, 4)])),
        measured: { [TARGET.name]: round(te.y[0]!, 4) },
      },
    },
    quality: { metrics: ['mae', 'rmse'] },
    evaluation: {
      runtime: 'onnxruntime-node',
      n: te.n,
      metrics,
      baselines: {
        trainingMean: { value: round(trainMean, 4), n: te.n, metrics: meanBaseline },
        previousHour: { description: 'the measured CO(GT) of the previous hour (needs the reference analyser the model replaces)', n: withPrev.length, metrics: persistence, modelOnSameRows: modelOnPrevSubset },
      },
      tolerance: TOLERANCE,
      split: {
        method: 'chronological',
        testFraction: TEST_FRACTION,
        seed: ctx.seed,
        quick: ctx.quick,
        description: `rows with the target and every feature present, in time order; the first ${100 - TEST_FRACTION * 100}% train, the last ${TEST_FRACTION * 100}% held out`,
        train: tr.n,
        test: te.n,
        trainPeriod: [split.train[0]!.time, split.train.at(-1)!.time],
        testPeriod: [split.test[0]!.time, split.test.at(-1)!.time],
        completeRows: split.complete.length,
      },
    },
    reference: {
      source: `held-out split (${te.n} hours)`,
      n: te.n,
      features: featureRef,
      predictions: { histogram: histogram(pred, quantileEdges(pred, 10)), mean: round(pred.reduce((a, b) => a + b, 0) / te.n, 4) },
    },
    provenance: {
      dataset: 'UCI Air Quality (De Vito, 2008), doi:10.24432/C59K5F',
      file: 'shared/data/air-quality/AirQualityUCI.csv',
      sha256: sha256File(dataFile),
      rows: all.length,
      completeRows: split.complete.length,
      licence: 'CC BY 4.0 (UCI)',
    },
    training: {
      seed: ctx.seed,
      quick: ctx.quick,
      architecture: { variant: chosen.name, layers: [EXPANDED, ...chosen.hidden, 1], parameters: model.parameterCount },
      hyperParameters: chosen.kind === 'ridge' ? { lambda: chosen.lambda } : { epochs: epochs ?? chosen.epochs, batchSize: 32, lr: chosen.lr, weightDecay: chosen.weightDecay, optimizer: 'Adam, mean squared error' },
      variants,
      ...runRecord(t0, trainSeconds),
    },
  };
  return writeArtifacts(ctx.out, spec, modelCard(spec), metrics);
}

async function evaluate(dir: string, ctx: EvalContext): Promise<EvalResult> {
  const spec = readSpec(dir);
  const ev = spec.evaluation as { split: { testFraction: number }; metrics: Record<string, number>; tolerance?: number };
  const all = loadAirQuality(ctx.data ?? defaultData());
  const te = table(chronologicalSplit(all, ev.split.testFraction).test);
  const session = await openSession(resolve(dir, spec.onnx!.file));
  const pred = Float32Array.from(await runDense(session, 'features', te.x, FEATURES.length), (o) => o[0]!);
  await session.release();
  return { model: spec.name, n: te.n, metrics: regressionRecord(regressionMetrics(te.y, pred)), recorded: ev.metrics, tolerance: ev.tolerance ?? TOLERANCE };
}

function modelCard(spec: ModelSpec): string {
  type B = { n: number; metrics: Record<string, number>; modelOnSameRows?: Record<string, number>; value?: number };
  const ev = spec.evaluation as { n: number; metrics: Record<string, number>; baselines: { trainingMean: B; previousHour: B }; split: Record<string, unknown> };
  const tr = spec.training as { seed: number; quick: boolean; architecture: Record<string, unknown>; hyperParameters: Record<string, unknown>; variants: Array<Variant & { validation: Record<string, number> }>; durationSeconds: number; machine: Record<string, unknown> };
  const pre = spec.preprocessing as { features: Array<Record<string, unknown>> };
  const prov = spec.provenance as Record<string, unknown>;
  const row = (name: string, m: Record<string, number>, n: number) => `| ${name} | ${n} | ${m['mae']} | ${m['rmse']} | ${m['r2']} |`;
  const period = (p: unknown) => (p as string[]).join(' .. ');
  return `# air-quality (version 1)

A virtual CO analyser: estimates the hourly mean **CO concentration (mg/m^3)**, as the certified reference analyser
(\`CO(GT)\`) would measure it, from the five metal-oxide sensors of a low-cost multisensor device, temperature,
humidity and the time. Trained by Vigil itself (\`vigil train air-quality\`).

## Interface
Input \`features\`: float32 [batch, ${pre.features.length}], raw readings in this order (standardisation happens inside the graph):

| # | feature | unit | description |
| --- | --- | --- | --- |
${pre.features.map((f) => `| ${String(f['index'])} | ${String(f['name'])} | ${String(f['unit'])} | ${String(f['description'])} |`).join('\n')}

Output \`prediction\`: float32 [batch, 1], CO in mg/m^3. No value may be missing (the source marks missing as -200).
Inside the graph: features 0-7 are standardised with the training mean and standard deviation (recorded in the spec);
hour and dayOfWeek become sin/cos of their angle on the daily and weekly cycle.

## Model
${String(tr.architecture['variant'])}, layers ${JSON.stringify(tr.architecture['layers'])} (${String(tr.architecture['parameters'])} parameters), ${JSON.stringify(tr.hyperParameters)}, seed ${tr.seed}.
Variants compared on a chronological validation tail (the last 20% of the training period):

| variant | validation MAE | RMSE | R^2 |
| --- | --- | --- | --- |
${tr.variants.length ? tr.variants.map((v) => `| ${v.name} | ${v.validation['mae']} | ${v.validation['rmse']} | ${v.validation['r2']} |`).join('\n') : '| (quick run: no comparison) | | | |'}

The variant with the lowest validation RMSE was refitted on the whole training period.

## Data and split
UCI Air Quality (${String(prov['rows'])} hourly rows, March 2004 - April 2005, an Italian city; sha256
\`${String(prov['sha256'])}\`). ${String(prov['completeRows'])} rows have the target and every feature.
Chronological split (no shuffling, so no look-ahead): train ${String(ev.split['train'])} hours (${period(ev.split['trainPeriod'])}),
held-out ${String(ev.split['test'])} hours (${period(ev.split['testPeriod'])}).

## Held-out results (exported ONNX model, onnxruntime-node)
| predictor | n | MAE (mg/m^3) | RMSE | R^2 |
| --- | --- | --- | --- | --- |
${row('**this model**', ev.metrics, ev.n)}
${row(`training mean (${String(ev.baselines.trainingMean.value)})`, ev.baselines.trainingMean.metrics, ev.baselines.trainingMean.n)}
${row('previous hour\'s measured CO', ev.baselines.previousHour.metrics, ev.baselines.previousHour.n)}
${row('this model, same rows as previous hour', ev.baselines.previousHour.modelOnSameRows!, ev.baselines.previousHour.n)}

The previous-hour baseline needs the reference analyser's reading, which is exactly what a deployed sensor lacks;
it is shown as a yardstick.

## Limits
- One device at one site over one year. Metal-oxide sensors drift and age: expect the error to grow over months and
  across devices; recalibrate with fresh reference data. The held-out period is the last months of the series, so
  these numbers already include some drift.
- Outside the training ranges (see the reference histograms in the spec) the predictions are extrapolations.

## Training run
${tr.durationSeconds} s on ${String(tr.machine['cpu'])} (${String(tr.machine['cores'])} cores, 1-minute load average ${String(tr.machine['loadAverage'])} at the end), Node ${String(tr.machine['node'])}.
Reproduce: \`vigil train air-quality --seed ${tr.seed}${tr.quick ? ' --quick' : ''}\`. Check: \`vigil eval air-quality\`.
Data: De Vito, S. (2008), Air Quality [Dataset], UCI Machine Learning Repository, CC BY 4.0.
`;
}

export const airQuality: Trainer = { name: 'air-quality', train, evaluate };
