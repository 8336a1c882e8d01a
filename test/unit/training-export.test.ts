import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { Cnn } from '../../src/training/cnn.js';
import { Mlp, ridge } from '../../src/training/mlp.js';
import { runDense, runTextClassifier } from '../../src/training/onnx-run.js';
import { Rng } from '../../src/training/rng.js';
import { TextClassifier } from '../../src/training/text-classifier.js';

/** Every exported graph must compute what the TypeScript forward pass computes. */

async function session(bytes: Uint8Array): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(bytes);
}

function randomSeqs(rng: Rng, n: number, vocab: number, maxLen: number): number[][] {
  return Array.from({ length: n }, () => Array.from({ length: 1 + rng.int(maxLen) }, () => 2 + rng.int(vocab - 2)));
}

describe('text classifier ONNX export', () => {
  for (const cfg of [
    { dim: 8, ngrams: 1, buckets: 0, hidden: 0 },
    { dim: 8, ngrams: 2, buckets: 97, hidden: 0 },
    { dim: 6, ngrams: 3, buckets: 1 << 12, hidden: 5 },
  ]) {
    it(`matches the TS forward pass on a padded batch (ngrams ${cfg.ngrams}, hidden ${cfg.hidden})`, async () => {
      const rng = new Rng(7);
      const model = new TextClassifier({ vocabSize: 50, numClasses: 2, ...cfg }, 3);
      const seqs = randomSeqs(rng, 40, 50, 12);
      seqs.push([2]); // a single token: no n-grams at all
      model.train(seqs.map((s) => model.features(s)), seqs.map((s) => s.length % 2), { epochs: 3, lr: 0.5, seed: 1, dropout: 0.2 });
      const s = await session(model.toOnnx());
      expect(s.inputNames).toEqual(['input_ids', 'attention_mask']);
      expect(s.outputNames).toEqual(['logits']);
      const onnx = await runTextClassifier(s, seqs, 16); // batches of mixed lengths, right-padded
      seqs.forEach((seq, i) => {
        const ts = model.forward(seq);
        expect(onnx[i]![0]).toBeCloseTo(ts[0]!, 4);
        expect(onnx[i]![1]).toBeCloseTo(ts[1]!, 4);
      });
    });
  }

  it('learns a separable toy task', () => {
    const rng = new Rng(1);
    const seqs = Array.from({ length: 400 }, (_, i) => [2, (i % 2 ? 10 : 20) + rng.int(5), 30 + rng.int(10), 3]);
    const labels = seqs.map((_, i) => i % 2);
    const model = new TextClassifier({ vocabSize: 50, numClasses: 2, dim: 8, ngrams: 2, buckets: 64, hidden: 0 }, 1);
    model.train(seqs.map((s) => model.features(s)), labels, { epochs: 5, lr: 0.5, seed: 1 });
    const correct = seqs.filter((s, i) => {
      const l = model.forward(s);
      return (l[1]! > l[0]! ? 1 : 0) === labels[i];
    }).length;
    expect(correct / seqs.length).toBeGreaterThan(0.95);
  });

  it('keeps n-gram hashes within int64 and 2^53 and inside the bucket range', () => {
    const model = new TextClassifier({ vocabSize: 30_000, numClasses: 2, dim: 2, ngrams: 3, buckets: 1 << 20, hidden: 0 }, 1);
    const f = model.features([29_999, 29_998, 29_997, 2]);
    expect(f.length).toBe(4 + 3 + 2);
    for (const id of f.slice(4)) {
      expect(id).toBeGreaterThanOrEqual(30_000);
      expect(id).toBeLessThan(30_000 + (1 << 20));
    }
  });
});

describe('digits CNN ONNX export', () => {
  it('matches the TS forward pass, and a few steps of training lower the loss', async () => {
    const rng = new Rng(5);
    const n = 24;
    const x = Float32Array.from({ length: n * 784 }, () => (rng.next() < 0.2 ? rng.next() : 0));
    const y = Uint8Array.from({ length: n }, (_, i) => i % 10);
    const cnn = new Cnn({ c1: 3, c2: 4, hidden: 8, classes: 10 }, 2);
    const losses: number[] = [];
    cnn.train(x, y, { epochs: 8, batchSize: 8, lr: 0.05, momentum: 0.9, weightDecay: 0, shift: 0, seed: 1, onEpoch: (_, l) => losses.push(l) });
    expect(losses.at(-1)!).toBeLessThan(losses[0]!);
    const s = await session(cnn.toOnnx());
    expect(s.inputNames).toEqual(['pixels']);
    const onnx = await runDense(s, 'pixels', x, 784, 7);
    const ts = cnn.predict(x);
    for (let i = 0; i < n; i++) for (let c = 0; c < 10; c++) expect(onnx[i]![c]).toBeCloseTo(ts[i]![c]!, 4);
  });
});

describe('dense regressors', () => {
  it('ridge recovers a linear function', () => {
    const rng = new Rng(3);
    const n = 200;
    const x = Float32Array.from({ length: n * 3 }, () => rng.normal());
    const y = Float32Array.from({ length: n }, (_, i) => 2 * x[i * 3]! - x[i * 3 + 1]! + 0.5 * x[i * 3 + 2]! + 4);
    const { w, b } = ridge(x, y, 3, 0);
    expect(Array.from(w).map((v) => Math.round(v * 1000) / 1000)).toEqual([2, -1, 0.5]);
    expect(b).toBeCloseTo(4, 4);
  });

  it('the MLP fits a non-linear function', () => {
    const rng = new Rng(4);
    const n = 500;
    const x = Float32Array.from({ length: n }, () => rng.next() * 4 - 2);
    const y = Float32Array.from(x, (v) => v * v);
    const m = new Mlp([1, 16, 1], 1);
    m.train(x, y, { epochs: 150, batchSize: 16, lr: 0.01, weightDecay: 0, seed: 1 });
    const pred = m.predict(x);
    const mse = pred.reduce((s, p, i) => s + (p[0]! - y[i]!) ** 2, 0) / n;
    expect(mse).toBeLessThan(0.05);
  });
});
