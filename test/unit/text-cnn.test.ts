import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { runTextClassifier } from '../../src/training/onnx-run.js';
import { fitSentiment, BASELINE, type SentimentVariant } from '../../src/training/sentiment-fit.js';
import { fusedLogits, fuseSentiment, sentimentLogits, sentimentOnnx } from '../../src/training/sentiment-model.js';
import { FeatureSpace, PLAIN_FEATURES } from '../../src/training/sentiment-features.js';
import { Rng } from '../../src/training/rng.js';
import { TextCnn, type TextCnnGradients } from '../../src/training/text-cnn.js';
import { CLS_ID, SEP_ID, SPECIAL_TOKENS } from '../../src/training/tokenizer.js';

/**
 * The text CNN (src/training/text-cnn.ts): its hand-written gradient against finite differences,
 * that it learns word order a bag of words cannot see, and that the exported graph -- padded
 * batches, windows running past the end of a short text -- gives the trainer's logits.
 */

function crossEntropy(cnn: TextCnn, ids: number[], label: number): number {
  const l = cnn.forward(ids);
  const max = Math.max(l[0]!, l[1]!);
  const lse = max + Math.log(Math.exp(l[0]! - max) + Math.exp(l[1]! - max));
  return lse - l[label]!;
}

describe('text CNN gradient', () => {
  it('matches central finite differences for every parameter on a tiny case', () => {
    // Widths 1-3 over texts of 1..5 tokens: windows cut off by the end of the text are covered.
    const cnn = new TextCnn({ vocabSize: 7, dim: 3, widths: [1, 2, 3], filters: 2 }, 5);
    const rng = new Rng(11);
    for (let i = 0; i < cnn.convBias.length; i++) cnn.convBias[i] = 0.1 * rng.normal(); // some filters below zero everywhere, some not
    const examples: Array<[number[], number]> = [
      [[1], 0],
      [[2, 3], 1],
      [[4, 5, 6], 0],
      [[1, 6, 2, 2, 5], 1],
    ];
    const params: Array<[keyof TextCnnGradients, Float32Array]> = [
      ['emb', cnn.emb],
      ['conv', cnn.conv],
      ['convBias', cnn.convBias],
      ['dense', cnn.dense],
      ['denseBias', cnn.denseBias],
    ];
    let checked = 0;
    for (const [ids, label] of examples) {
      const g = cnn.zeroGradients();
      const loss = cnn.backward(ids, label, g);
      expect(loss).toBeCloseTo(crossEntropy(cnn, ids, label), 5);
      for (const [name, w] of params) {
        for (let i = 0; i < w.length; i++) {
          const keep = w[i]!;
          const eps = 1e-3;
          w[i] = keep + eps;
          const up = crossEntropy(cnn, ids, label);
          w[i] = keep - eps;
          const down = crossEntropy(cnn, ids, label);
          w[i] = keep;
          const numeric = (up - down) / (2 * eps);
          expect(Math.abs(g[name][i]! - numeric), `${name}[${i}] of [${ids.join(',')}]`).toBeLessThan(2e-3 + 1e-2 * Math.abs(numeric));
          if (Math.abs(numeric) > 1e-3) checked++;
        }
      }
    }
    // Not a vacuous pass: a good share of the parameters have a non-zero gradient.
    expect(checked).toBeGreaterThan(40);
  });

  it('taps past a filter\'s width carry no weight and get no gradient', () => {
    const cnn = new TextCnn({ vocabSize: 5, dim: 2, widths: [1, 3], filters: 1 }, 3);
    // Filter 0 has width 1 of K = 3: its taps 1 and 2 are zero.
    expect(Array.from(cnn.conv.subarray(2, 6))).toEqual([0, 0, 0, 0]);
    const g = cnn.zeroGradients();
    cnn.backward([1, 2, 3, 4], 1, g);
    expect(Array.from(g.conv.subarray(2, 6))).toEqual([0, 0, 0, 0]);
  });
});

describe('text CNN training', () => {
  it('learns an order-only task (which of two words comes first) that a bag of words cannot', () => {
    // Every text holds the same two words, a and b, among fillers; the label is whether a comes
    // right before b. The bag of words is the same for both labels.
    const [a, b] = [1, 2];
    const rng = new Rng(3);
    const make = (n: number) =>
      Array.from({ length: n }, () => {
        const label = rng.int(2);
        const fill = Array.from({ length: 4 }, () => 3 + rng.int(4));
        const at = rng.int(fill.length + 1);
        fill.splice(at, 0, ...(label ? [a, b] : [b, a]));
        return { ids: fill, label };
      });
    const train = make(400);
    const test = make(200);
    const accuracy = (cnn: TextCnn) => test.filter((e) => (cnn.forward(e.ids)[1]! > cnn.forward(e.ids)[0]! ? 1 : 0) === e.label).length / test.length;
    const cnn = new TextCnn({ vocabSize: 7, dim: 4, widths: [2], filters: 8 }, 1);
    const untrained = accuracy(cnn);
    cnn.train(train.map((e) => e.ids), train.map((e) => e.label), { epochs: 30, batchSize: 16, lr: 0.01, dropout: 0, seed: 1 });
    expect(untrained).toBeLessThan(0.75);
    expect(accuracy(cnn)).toBeGreaterThan(0.95);
  });

  it('is reproducible from its seed and sets rows no example reached to zero', () => {
    const seqs = [[1, 2, 3], [3, 2], [1, 1, 2, 3]];
    const labels = [1, 0, 1];
    const fit = (seed: number) => {
      const cnn = new TextCnn({ vocabSize: 6, dim: 3, widths: [2], filters: 3 }, seed);
      cnn.train(seqs, labels, { epochs: 3, batchSize: 2, lr: 0.01, dropout: 0.5, seed });
      return cnn;
    };
    expect(Array.from(fit(4).conv)).toEqual(Array.from(fit(4).conv));
    expect(Array.from(fit(4).conv)).not.toEqual(Array.from(fit(5).conv));
    const cnn = fit(4);
    expect(Array.from(cnn.emb.subarray(4 * 3, 6 * 3)).every((x) => x === 0)).toBe(true); // ids 4, 5: never seen
    expect(Array.from(cnn.emb.subarray(1 * 3, 2 * 3)).some((x) => x !== 0)).toBe(true);
  });
});

const VOCAB = [...SPECIAL_TOKENS, 'good', 'bad', 'not', "n't", 'film', ',', '.', 'funny', 'dull', 'never', 'but'];

async function graphLogits(bytes: Uint8Array, seqs: number[][], batch: number): Promise<number[][]> {
  const session = await ort.InferenceSession.create(Buffer.from(bytes));
  try {
    return await runTextClassifier(session, seqs, batch);
  } finally {
    await session.release();
  }
}

describe('text CNN in the sentiment graph', () => {
  const rng = new Rng(9);
  const seq = (n: number) => [CLS_ID, ...Array.from({ length: n }, () => 5 + rng.int(VOCAB.length - 5)), SEP_ID];
  const train = Array.from({ length: 80 }, () => seq(1 + rng.int(10)));
  const labels = train.map((s) => (s.indexOf(VOCAB.indexOf('good')) > s.indexOf(VOCAB.indexOf('not')) ? 1 : 0));
  // Texts from a single [CLS] up to 20 tokens, in padded batches of mixed lengths.
  const test = [[CLS_ID], [CLS_ID, SEP_ID], ...Array.from({ length: 40 }, () => seq(rng.int(18)))];
  const cnn = { dim: 6, widths: [2, 3, 4], filters: 5, epochs: 3, lr: 0.01, batchSize: 8, dropout: 0.3 };
  const variants: Array<[string, Partial<SentimentVariant>]> = [
    ['CNN alone', { members: 0, cnn }],
    ['ensemble of 2 + NB-LR + negation, CNN weight 0.4', { members: 2, linearWeight: 0.3, features: { ...PLAIN_FEATURES, negation: true }, cnn, cnnWeight: 0.4 }],
    ['CNN alone, int8 storage', { members: 0, cnn: { ...cnn, storage: 'int8' } }],
    ['ensemble of 2 + NB-LR, CNN weight 0.4, int8 storage', { members: 2, linearWeight: 0.3, cnn: { ...cnn, storage: 'int8' }, cnnWeight: 0.4 }],
  ];
  for (const [name, change] of variants) {
    it(`gives the trainer's logits on padded batches: ${name}`, async () => {
      const v: SentimentVariant = { ...BASELINE, epochs: 2, dim: 8, hidden: 4, ...change };
      const parts = fitSentiment(VOCAB, { ids: train, labels }, v, 3);
      // [PAD] is never a training id, so training zeroes its row; give it values so that only the
      // graph's mask keeps padding out of the windows.
      const fused = fuseSentiment(parts);
      const q = fused.cnn!.quantized;
      if (q) {
        // int8 storage: the graph reads the codes and the row's scale (2^-7: a float16), the trainer their product.
        q.codes.fill(96, 0, cnn.dim);
        q.scales[0] = 2 ** -7;
        fused.cnn!.emb.fill(96 * 2 ** -7, 0, cnn.dim);
      } else fused.cnn!.emb.fill(0.75, 0, cnn.dim);
      const got = await graphLogits(sentimentOnnx(fused), test, 7);
      const alone = await graphLogits(sentimentOnnx(fused), test, 1);
      test.forEach((s, i) => {
        const want = fusedLogits(fused, s);
        for (const c of [0, 1]) {
          expect(got[i]![c]).toBeCloseTo(want[c]!, 4);
          expect(alone[i]![c]).toBeCloseTo(want[c]!, 4);
        }
      });
      // The trained parts (float32 embedding) give the fused model's logits up to float16 (int8) rounding.
      const plain = fuseSentiment(parts);
      test.forEach((s) => {
        const a = sentimentLogits(parts, s);
        const b = fusedLogits(plain, s);
        expect(Math.abs(a[1]! - a[0]! - (b[1]! - b[0]!))).toBeLessThan(q ? 3e-2 : 5e-3);
      });
      // The CNN's part is in the graph: without it the logits differ.
      const noCnn = { ...fused, cnn: undefined };
      if (fused.members > 0) expect(test.some((s, i) => Math.abs(fusedLogits(noCnn, s)[1]! - got[i]![1]!) > 1e-3)).toBe(true);
    });
  }
});

describe('text CNN over pretrained vectors', () => {
  // Words 1-4 have vectors: 1 "good" and 3 "great" point the same way, 2 "bad" and 4 "awful" the
  // other; 5 has none. Training shows only 1 and 2 (and 5), so 3 and 4 are known only by their vectors.
  const W = 4;
  const vectors = new Float32Array(6 * W);
  const put = (id: number, v: number[]) => vectors.set(v, id * W);
  put(1, [1, 0.2, 0, 0]);
  put(2, [-1, 0.2, 0, 0]);
  put(3, [0.9, 0, 0.1, 0]);
  put(4, [-0.9, 0, 0.1, 0]);
  const found = Uint8Array.from([0, 1, 1, 1, 1, 0]);
  const seqs = Array.from({ length: 60 }, (_, i) => (i % 2 ? [5, 1, 5] : [5, 2, 5]));
  const labels = seqs.map((s) => (s[1] === 1 ? 1 : 0));
  const opts = { epochs: 20, batchSize: 8, lr: 0.02, dropout: 0, seed: 2 };
  const positive = (cnn: TextCnn, ids: number[]) => cnn.forward(ids)[1]! - cnn.forward(ids)[0]!;

  for (const mode of ['static', 'fine-tuned'] as const) {
    it(`${mode}: a word no example shows is scored by its vector (CNN-rand zeroes it)`, () => {
      const cnn = new TextCnn({ vocabSize: 6, dim: 3, widths: [1, 2], filters: 4 }, 1, { vectors, width: W, found, mode });
      cnn.train(seqs, labels, opts);
      expect(positive(cnn, [5, 1, 5])).toBeGreaterThan(0);
      expect(positive(cnn, [5, 3, 5]), '"great" like "good"').toBeGreaterThan(0);
      expect(positive(cnn, [5, 4, 5]), '"awful" like "bad"').toBeLessThan(0);
      // Row 3 is exactly its vector's projection: emb = vector · P.
      const row = Array.from({ length: 3 }, (_, e) => Array.from({ length: W }, (_, i) => vectors[3 * W + i]! * cnn.proj![i * 3 + e]!).reduce((a, b) => a + b, 0));
      row.forEach((x, e) => expect(cnn.emb[3 * 3 + e]).toBeCloseTo(x, 5));
      if (mode === 'static') expect(Array.from(cnn.offset!.subarray(1 * 3, 5 * 3)).every((x) => x === 0), 'rows with a vector learn no offset').toBe(true);
      else expect(Array.from(cnn.offset!.subarray(1 * 3, 2 * 3)).some((x) => x !== 0), 'a seen row learns an offset').toBe(true);
      expect(Array.from(cnn.offset!.subarray(5 * 3, 6 * 3)).some((x) => x !== 0), 'a seen row without a vector is learnt').toBe(true);
    });
  }

  it('without vectors the unseen words score alike (the control: the test above can fail)', () => {
    const cnn = new TextCnn({ vocabSize: 6, dim: 3, widths: [1, 2], filters: 4 }, 1);
    cnn.train(seqs, labels, opts);
    expect(positive(cnn, [5, 3, 5])).toBeCloseTo(positive(cnn, [5, 4, 5]), 6);
  });

  it('keeps the random draws of CNN-rand, so adding vectors changes nothing else at initialisation', () => {
    const plain = new TextCnn({ vocabSize: 6, dim: 3, widths: [2], filters: 2 }, 7);
    const pre = new TextCnn({ vocabSize: 6, dim: 3, widths: [2], filters: 2 }, 7, { vectors, width: W, found, mode: 'static' });
    expect(Array.from(pre.conv)).toEqual(Array.from(plain.conv));
    expect(Array.from(pre.emb.subarray(5 * 3))).toEqual(Array.from(plain.emb.subarray(5 * 3))); // no vector: CNN-rand's row
  });

  it('the exported graph folds the projection into its table and gives the trainer\'s logits', async () => {
    const cnn = new TextCnn({ vocabSize: 6, dim: 3, widths: [1, 2], filters: 4 }, 1, { vectors, width: W, found, mode: 'fine-tuned' });
    cnn.train(seqs, labels, { ...opts, epochs: 3 });
    const exported = cnn.exported(1);
    const test = [[5, 3, 5], [5, 4], [1, 2, 3, 4, 5], [3]];
    const fused = fuseSentiment({ features: new FeatureSpace(['[PAD]', 'a', 'b', 'c', 'd', 'e'], PLAIN_FEATURES), members: [], linearWeight: 0, cnn });
    const got = await graphLogits(sentimentOnnx(fused), test, 3);
    test.forEach((s, i) => {
      const want = exported.forward(s);
      expect(got[i]![0]).toBeCloseTo(want[0]!, 4);
      expect(got[i]![1]).toBeCloseTo(want[1]!, 4);
      expect(Math.abs(want[1]! - want[0]! - (cnn.forward(s)[1]! - cnn.forward(s)[0]!))).toBeLessThan(5e-3); // float16 only
    });
  });
});
