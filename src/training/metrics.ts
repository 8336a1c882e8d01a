/** Quality metrics and the histograms stored in a spec's `reference` (for drift / PSI). */

export interface ClassificationMetrics {
  n: number;
  accuracy: number;
  /** Precision/recall/F1 of the positive label (binary) or macro-averaged (multi-class). */
  precision: number;
  recall: number;
  f1: number;
  /** confusion[true][predicted] */
  confusion: number[][];
}

export function classificationMetrics(yTrue: ArrayLike<number>, yPred: ArrayLike<number>, numClasses: number, positive?: number): ClassificationMetrics {
  const n = yTrue.length;
  const confusion = Array.from({ length: numClasses }, () => new Array<number>(numClasses).fill(0));
  let correct = 0;
  for (let i = 0; i < n; i++) {
    const t = yTrue[i]!;
    const p = yPred[i]!;
    confusion[t]![p]!++;
    if (t === p) correct++;
  }
  const prf = (c: number) => {
    const tp = confusion[c]![c]!;
    let predicted = 0;
    let actual = 0;
    for (let k = 0; k < numClasses; k++) {
      predicted += confusion[k]![c]!;
      actual += confusion[c]![k]!;
    }
    const precision = predicted ? tp / predicted : 0;
    const recall = actual ? tp / actual : 0;
    const f1 = precision + recall ? (2 * precision * recall) / (precision + recall) : 0;
    return { precision, recall, f1 };
  };
  let precision = 0;
  let recall = 0;
  let f1 = 0;
  if (positive !== undefined) ({ precision, recall, f1 } = prf(positive));
  else {
    for (let c = 0; c < numClasses; c++) {
      const m = prf(c);
      precision += m.precision / numClasses;
      recall += m.recall / numClasses;
      f1 += m.f1 / numClasses;
    }
  }
  return { n, accuracy: n ? correct / n : 0, precision, recall, f1, confusion };
}

/** The four numbers a classifier's spec records, rounded to 4 decimals. */
export function classificationRecord(m: ClassificationMetrics): Record<string, number> {
  return { accuracy: round(m.accuracy, 4), precision: round(m.precision, 4), recall: round(m.recall, 4), f1: round(m.f1, 4) };
}

export interface RegressionMetrics {
  n: number;
  mae: number;
  rmse: number;
  r2: number;
}

/** The numbers a regressor's spec records, rounded to 4 decimals. */
export function regressionRecord(m: RegressionMetrics): Record<string, number> {
  return { mae: round(m.mae, 4), rmse: round(m.rmse, 4), r2: round(m.r2, 4) };
}

export function regressionMetrics(yTrue: ArrayLike<number>, yPred: ArrayLike<number>): RegressionMetrics {
  const n = yTrue.length;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += yTrue[i]! / n;
  let ae = 0;
  let se = 0;
  let st = 0;
  for (let i = 0; i < n; i++) {
    const e = yTrue[i]! - yPred[i]!;
    ae += Math.abs(e);
    se += e * e;
    st += (yTrue[i]! - mean) ** 2;
  }
  return { n, mae: ae / n, rmse: Math.sqrt(se / n), r2: st ? 1 - se / st : 0 };
}

/**
 * A histogram with explicit edges: bin i is [edges[i], edges[i+1]), the last bin is closed, and
 * values outside [edges[0], edges[last]] are counted in the first/last bin. counts.length = edges.length - 1.
 */
export interface Histogram {
  edges: number[];
  counts: number[];
  proportions: number[];
}

export function histogram(values: ArrayLike<number>, edges: number[]): Histogram {
  const bins = edges.length - 1;
  if (bins < 1) throw new Error('histogram needs at least two edges');
  const counts = new Array<number>(bins).fill(0);
  for (let i = 0; i < values.length; i++) counts[binOf(values[i]!, edges)]!++;
  const total = values.length || 1;
  return { edges, counts, proportions: counts.map((c) => round(c / total, 6)) };
}

export function binOf(v: number, edges: number[]): number {
  const bins = edges.length - 1;
  let lo = 0;
  let hi = bins - 1;
  if (!(v >= edges[1]!)) return 0;
  if (v >= edges[bins - 1]!) return bins - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (v >= edges[mid]!) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** Edges at the given quantiles of the values (deduplicated), with the min and max as outer edges. */
export function quantileEdges(values: ArrayLike<number>, bins: number): number[] {
  const sorted = Float64Array.from(values as ArrayLike<number>).sort();
  const edges: number[] = [];
  for (let b = 0; b <= bins; b++) {
    const q = sorted[Math.min(sorted.length - 1, Math.floor((b / bins) * (sorted.length - 1)))]!;
    const v = round(q, 6);
    if (!edges.length || v > edges[edges.length - 1]!) edges.push(v);
  }
  if (edges.length < 2) edges.push(edges[0]! + 1);
  return edges;
}

/** Population stability index between a reference histogram and counts over the same edges. */
export function psi(ref: Histogram, counts: number[], eps = 1e-4): number {
  const total = counts.reduce((a, b) => a + b, 0) || 1;
  let s = 0;
  ref.proportions.forEach((p0, i) => {
    const a = Math.max(p0, eps);
    const b = Math.max((counts[i] ?? 0) / total, eps);
    s += (b - a) * Math.log(b / a);
  });
  return s;
}

export function round(x: number, digits = 4): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

export function softmax(logits: ArrayLike<number>): number[] {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]!);
  const e = Array.from(logits as ArrayLike<number>, (z) => Math.exp(z - max));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

export function argmax(v: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < v.length; i++) if (v[i]! > v[best]!) best = i;
  return best;
}

/** Edges for the max-softmax confidence of a classifier with k classes. */
export function confidenceEdges(k: number): number[] {
  const lo = round(1 / k, 4);
  return k === 2 ? [0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1] : [lo, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 0.99, 1].filter((e, i, a) => i === 0 || e > a[i - 1]!);
}

/** Reference distribution of a classifier's predictions: label mix and confidence histogram. */
export function predictionReference(probs: number[][], labels: string[]): { labels: Record<string, number>; confidence: Histogram } {
  const counts = new Array<number>(labels.length).fill(0);
  const conf: number[] = [];
  for (const p of probs) {
    const k = argmax(p);
    counts[k]!++;
    conf.push(p[k]!);
  }
  const n = probs.length || 1;
  return {
    labels: Object.fromEntries(labels.map((l, i) => [l, round(counts[i]! / n, 6)])),
    confidence: histogram(conf, confidenceEdges(labels.length)),
  };
}

/**
 * How far predicted probabilities are from observed frequencies, for a binary classifier:
 * expected calibration error over `bins` equal-width bins of p(positive) (the bins' |mean p -
 * observed rate|, weighted by their share of the examples) and the Brier score (mean squared
 * error of p against the 0/1 label).
 */
export function calibrationMetrics(pPositive: ArrayLike<number>, yTrue: ArrayLike<number>, bins = 10): { ece: number; brier: number } {
  const n = yTrue.length;
  const sumP = new Float64Array(bins);
  const sumY = new Float64Array(bins);
  const count = new Float64Array(bins);
  let brier = 0;
  for (let i = 0; i < n; i++) {
    const p = pPositive[i]!;
    const y = yTrue[i]!;
    const b = Math.min(bins - 1, Math.floor(p * bins));
    sumP[b]! += p;
    sumY[b]! += y;
    count[b]!++;
    brier += (p - y) ** 2;
  }
  let ece = 0;
  for (let b = 0; b < bins; b++) if (count[b]) ece += Math.abs(sumP[b]! - sumY[b]!) / (n || 1);
  return { ece: round(ece, 4), brier: round(brier / (n || 1), 4) };
}
