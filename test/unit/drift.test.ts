import { readFileSync } from 'node:fs';
import { Registry } from 'prom-client';
import { beforeAll, describe, expect, it } from 'vitest';
import { BinnedWindow, binOf, DriftMetrics, EPSILON, FeatureDrift, histogramReference, ModelDrift, psi } from '../../src/observability/drift.js';
import { textFeatures } from '../../src/tasks/text-classification.js';
import { loadTokenizer, type SpecialTokenIds } from '../../src/tasks/tokenizer.js';

const sentimentSpec = JSON.parse(readFileSync(new URL('../../models/sentiment/1/vigil.model.json', import.meta.url), 'utf8')) as {
  name: string;
  version: string;
  reference: { features: Record<string, { edges: number[]; proportions: number[] }>; predictions: { labels: Record<string, number> } };
};

describe('psi', () => {
  it('matches hand-computed values', () => {
    // ref 50/50, current 75/25: 0.25 ln 1.5 + (-0.25) ln 0.5
    expect(psi([0.5, 0.5], [75, 25])).toBeCloseTo(0.25 * Math.log(1.5) + 0.25 * Math.log(2), 12);
    expect(psi([0.5, 0.5], [75, 25])).toBeCloseTo(0.274653, 6);
    // three bins: ref [0.2, 0.3, 0.5], current [0.4, 0.4, 0.2]
    const expected = (0.4 - 0.2) * Math.log(0.4 / 0.2) + (0.4 - 0.3) * Math.log(0.4 / 0.3) + (0.2 - 0.5) * Math.log(0.2 / 0.5);
    expect(psi([0.2, 0.3, 0.5], [4, 4, 2])).toBeCloseTo(expected, 12);
    expect(expected).toBeCloseTo(0.442285, 6); // 0.2 ln 2 + 0.1 ln(4/3) + 0.3 ln 2.5
  });

  it('is 0 for the reference distribution itself and symmetric in its two arguments', () => {
    expect(psi([0.25, 0.25, 0.5], [1, 1, 2])).toBe(0);
    expect(psi([0.75, 0.25], [50, 50])).toBeCloseTo(psi([0.5, 0.5], [75, 25]), 12);
  });

  it('floors empty bins at epsilon (1e-4) instead of dividing by zero', () => {
    expect(EPSILON).toBe(1e-4);
    // ref [1, 0] -> [1, 1e-4]; current [0.5, 0.5]
    const expected = (0.5 - 1) * Math.log(0.5 / 1) + (0.5 - 1e-4) * Math.log(0.5 / 1e-4);
    expect(psi([1, 0], [1, 1])).toBeCloseTo(expected, 12);
    expect(Number.isFinite(psi([1, 0], [0, 10]))).toBe(true);
    expect(psi([0.5, 0.5], [0, 0])).toBe(0);
  });
});

describe('binOf (the training code binning)', () => {
  const edges = [0, 5, 10, 15];
  it.each([
    [-1, 0],
    [0, 0],
    [4.99, 0],
    [5, 1],
    [14.9, 2],
    [15, 2],
    [1000, 2],
    [Number.NaN, 0],
  ])('%d -> bin %d', (value, bin) => {
    expect(binOf(value, edges)).toBe(bin);
  });
});

describe('windows', () => {
  it('keep the last N values only', () => {
    const w = new BinnedWindow(3, 3);
    for (const bin of [0, 0, 0]) w.push(bin);
    expect(w.counts).toEqual([3, 0, 0]);
    w.push(1);
    w.push(2);
    expect(w.counts).toEqual([1, 1, 1]);
    expect(w.count).toBe(3);
    w.push(2);
    expect(w.counts).toEqual([0, 1, 2]);
  });

  it('categorical features put unknown categories in an extra bin the reference does not have', () => {
    const f = FeatureDrift.categorical('prediction', { a: 3, b: 1 }, 10)!;
    expect(f.reference).toEqual([0.75, 0.25, 0]);
    for (const label of ['a', 'a', 'a', 'b']) f.add(label);
    expect(f.psi()).toBe(0);
    f.add('zzz');
    expect(f.counts).toEqual([3, 1, 1]);
    expect(f.psi()).toBeGreaterThan(0.5);
  });

  it('reference histograms are checked and normalised', () => {
    expect(histogramReference({ edges: [0, 1, 2], proportions: [0.2, 0.2] })!.proportions).toEqual([0.5, 0.5]);
    expect(histogramReference({ edges: [0, 1, 2], counts: [1, 3], proportions: [0.9, 0.1] })!.proportions).toEqual([0.25, 0.75]);
    expect(histogramReference({ edges: [0, 2, 1], proportions: [0.5, 0.5] })).toBeUndefined();
    expect(histogramReference({ edges: [0, 1], proportions: [0.5, 0.5] })).toBeUndefined();
    expect(histogramReference('nope')).toBeUndefined();
  });
});

describe('ModelDrift with the sentiment reference', () => {
  it('monitors tokenCount, unknownTokenRate, prediction and confidence; nothing below the minimum count', () => {
    const drift = new ModelDrift(sentimentSpec, 200);
    expect([...drift.features.keys()]).toEqual(['tokenCount', 'unknownTokenRate']);
    for (let i = 0; i < 99; i++) drift.add({ features: { tokenCount: 12, unknownTokenRate: 0 }, label: 'POSITIVE', score: 0.9 });
    expect(drift.scores(100)).toEqual([]);
    drift.add({ features: { tokenCount: 12, unknownTokenRate: 0 }, label: 'POSITIVE', score: 0.9 });
    expect(drift.scores(100).map((s) => s.feature).sort()).toEqual(['confidence', 'prediction', 'tokenCount', 'unknownTokenRate']);
  });

  it('a sample shaped like the reference scores near 0; a shifted one far over 0.2', () => {
    const drift = new ModelDrift(sentimentSpec, 1000);
    const ref = sentimentSpec.reference.features.tokenCount!;
    // 1000 values spread over the bins in the reference proportions, at each bin's midpoint.
    ref.proportions.forEach((p, bin) => {
      const mid = (ref.edges[bin]! + ref.edges[bin + 1]!) / 2;
      for (let i = 0; i < Math.round(p * 1000); i++) drift.add({ features: { tokenCount: mid } });
    });
    const near = drift.scores(100).find((s) => s.feature === 'tokenCount')!;
    expect(near.psi).toBeLessThan(0.001);
    for (let i = 0; i < 1000; i++) drift.add({ features: { tokenCount: 127 } });
    const far = drift.scores(100).find((s) => s.feature === 'tokenCount')!;
    expect(far.count).toBe(1000);
    expect(far.psi).toBeGreaterThan(0.2);
    // Every value in the last bin (ref 0 -> epsilon): PSI = sum of (cur-ref) ln(cur/ref) with the floor.
    const expected = psi(ref.proportions, ref.proportions.map((_, i) => (i === ref.proportions.length - 1 ? 1000 : 0)));
    expect(far.psi).toBeCloseTo(expected, 9);
  });
});

describe('ModelDrift with a tabular row as given (air-quality)', () => {
  const airQuality = JSON.parse(readFileSync(new URL('../../models/air-quality/1/vigil.model.json', import.meta.url), 'utf8')) as typeof sentimentSpec & {
    preprocessing: { example: { features: Record<string, number> } };
  };

  it("reads only the reference's features, and counts a value only when it is a finite number", () => {
    const drift = new ModelDrift(airQuality, 100);
    const names = [...drift.features.keys()];
    expect(names.length).toBeGreaterThan(5);
    const row = airQuality.preprocessing.example.features;
    for (let i = 0; i < 10; i++) drift.add({ features: { ...row, notAFeature: 3 } });
    // One feature sent as text, one missing, one not finite: those three are not counted.
    const [asText, missing, infinite] = names;
    const { [missing!]: _left, ...withoutOne } = row;
    drift.add({ features: { ...withoutOne, [asText!]: '12', [infinite!]: Number.POSITIVE_INFINITY } });
    const counts = Object.fromEntries(names.map((n) => [n, drift.features.get(n)!.count]));
    expect(counts).toEqual(Object.fromEntries(names.map((n) => [n, n === asText || n === missing || n === infinite ? 10 : 11])));
    expect(drift.features.has('notAFeature')).toBe(false);
  });
});

describe('DriftMetrics', () => {
  it('exports vigil_drift_psi per feature at scrape time, once the window holds the minimum', async () => {
    const registry = new Registry();
    const metrics = new DriftMetrics(registry, { windowSize: 50, minCount: 10 });
    const drift = metrics.track(sentimentSpec)!;
    for (let i = 0; i < 9; i++) drift.add({ features: { tokenCount: 25, unknownTokenRate: 0.6 }, label: 'NEGATIVE', score: 0.55 });
    let text = await registry.metrics();
    expect(text).not.toMatch(/vigil_drift_psi\{/);
    expect(text).toContain('vigil_drift_window_size{model="sentiment",version="1"} 9');
    drift.add({ features: { tokenCount: 25, unknownTokenRate: 0.6 }, label: 'NEGATIVE', score: 0.55 });
    text = await registry.metrics();
    const value = (feature: string) => Number(new RegExp(`vigil_drift_psi\\{model="sentiment",version="1",feature="${feature}"\\} (\\S+)`).exec(text)?.[1]);
    // All ten in the [0.5, 1] unknown-rate bin, whose reference share is 0 -> floored at 1e-4.
    const unk = sentimentSpec.reference.features.unknownTokenRate!;
    expect(value('unknownTokenRate')).toBeCloseTo(psi(unk.proportions, [0, 0, 0, 0, 0, 0, 10]), 5);
    expect(value('unknownTokenRate')).toBeGreaterThan(0.2);
    // The reference label mix is the committed model's (NEGATIVE, POSITIVE, then no third label).
    const mix = sentimentSpec.reference.predictions.labels;
    expect(value('prediction')).toBeCloseTo(psi([mix['NEGATIVE']!, mix['POSITIVE']!, 0], [10, 0, 0]), 5);
    expect(text).toMatch(/feature="tokenCount"/);
    expect(text).toMatch(/feature="confidence"/);
    metrics.forget(sentimentSpec);
    expect(await registry.metrics()).not.toMatch(/vigil_drift_psi\{/);
  });

  it('ignores models whose spec has no reference', () => {
    const metrics = new DriftMetrics(new Registry());
    expect(metrics.track({ name: 'x', version: '1' })).toBeUndefined();
    expect(metrics.track({ name: 'x', version: '1', reference: { features: { f: { edges: [1], proportions: [] } } } })).toBeUndefined();
  });
});

describe('text drift features (as src/training/text-pipeline.ts computes them)', () => {
  let tokens: SpecialTokenIds;
  beforeAll(async () => {
    tokens = (await loadTokenizer(new URL('../../models/sentiment/1', import.meta.url).pathname)).specialTokens;
  });

  it('reads [UNK] and the special tokens from tokenizer.json', () => {
    expect(tokens.unk).toBe(1);
    expect([...tokens.special].sort()).toEqual([0, 2, 3, 4]);
  });

  it('counts word tokens without [CLS]/[SEP]/[PAD] and the [UNK] share of them', () => {
    // [CLS] a [UNK] b [UNK] [SEP] [PAD]
    expect(textFeatures([2, 10, 1, 11, 1, 3, 0], tokens)).toEqual({ tokenCount: 4, unknownTokenRate: 0.5 });
    expect(textFeatures([2, 3], tokens)).toEqual({ tokenCount: 0, unknownTokenRate: 0 });
  });
});
