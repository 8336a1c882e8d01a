import { GraphBuilder } from './onnx-graph.js';
import { Rng } from './rng.js';

/**
 * A fastText-style text classifier: the mean of the embeddings of the token ids and of hashed
 * n-grams of adjacent ids (computed INSIDE the ONNX graph from `input_ids` with int64 Mul/Add/Mod),
 * masked by `attention_mask`, then optionally one ReLU hidden layer, then a linear layer to logits.
 * Interface of a Hugging Face sequence classifier: input_ids, attention_mask -> logits.
 */
export interface TextModelConfig {
  vocabSize: number;
  numClasses: number;
  /** Embedding width. */
  dim: number;
  /** Longest n-gram (1 = unigrams only, 2 = +bigrams, 3 = +trigrams). */
  ngrams: number;
  /** Hash buckets for the n-grams (rows of the embedding table after the vocabulary). */
  buckets: number;
  /** Width of the ReLU hidden layer; 0 = none (linear head on the pooled embedding). */
  hidden: number;
}

export interface TrainOptions {
  epochs: number;
  /** Initial SGD learning rate, decayed linearly to 0 over the run (as fastText does). */
  lr: number;
  /** L2 penalty on the dense head (applied every step). */
  l2?: number;
  /** Probability of dropping each feature (token or n-gram) of an example during training (DAN-style word dropout). */
  dropout?: number;
  seed: number;
  /** Called after each epoch with the mean training loss. */
  onEpoch?: (epoch: number, loss: number) => void;
}

/** Multiplier of the n-gram hash. All intermediate values stay below 2^53 so TS and int64 ONNX agree. */
export const HASH_MUL = 1_000_003;

export class TextClassifier {
  readonly emb: Float32Array;
  /** Hidden layer [dim, hidden] + bias, only when hidden > 0. */
  readonly w1: Float32Array;
  readonly b1: Float32Array;
  /** Output layer [in, numClasses] + bias, in = hidden || dim. */
  readonly w2: Float32Array;
  readonly b2: Float32Array;

  constructor(readonly cfg: TextModelConfig, seed: number) {
    const { vocabSize, dim, buckets, hidden, numClasses } = cfg;
    if (cfg.ngrams > 1 && buckets < 1) throw new Error('n-grams need buckets > 0');
    if (vocabSize * HASH_MUL + vocabSize > Number.MAX_SAFE_INTEGER || buckets * HASH_MUL + vocabSize > Number.MAX_SAFE_INTEGER) {
      throw new Error('hash would overflow 2^53');
    }
    const rng = new Rng(seed);
    const rows = vocabSize + (cfg.ngrams > 1 ? buckets : 0);
    this.emb = new Float32Array(rows * dim);
    // Word rows: small uniform noise (fastText). N-gram rows start at zero, so a bucket no training
    // n-gram reached adds nothing but weight in the mean.
    for (let i = 0; i < vocabSize * dim; i++) this.emb[i] = (rng.next() * 2 - 1) / dim;
    this.w1 = new Float32Array(hidden > 0 ? dim * hidden : 0);
    const s1 = Math.sqrt(2 / dim);
    for (let i = 0; i < this.w1.length; i++) this.w1[i] = rng.normal() * s1;
    this.b1 = new Float32Array(hidden);
    const inW = hidden > 0 ? hidden : dim;
    this.w2 = new Float32Array(inW * numClasses);
    if (hidden > 0) {
      const s2 = Math.sqrt(1 / hidden);
      for (let i = 0; i < this.w2.length; i++) this.w2[i] = rng.normal() * s2;
    }
    this.b2 = new Float32Array(numClasses);
  }

  /** Embedding rows used by one (unpadded) id sequence: the ids, then hashed n-grams. */
  features(ids: ArrayLike<number>): Int32Array {
    const { ngrams, buckets, vocabSize } = this.cfg;
    const n = ids.length;
    let total = n;
    for (let k = 2; k <= ngrams; k++) total += Math.max(0, n - k + 1);
    const out = new Int32Array(total);
    for (let t = 0; t < n; t++) out[t] = ids[t]!;
    let o = n;
    for (let k = 2; k <= ngrams; k++) {
      for (let t = 0; t + k <= n; t++) {
        let h = ids[t]!;
        for (let j = 1; j < k; j++) h = (h * HASH_MUL + ids[t + j]!) % buckets;
        out[o++] = vocabSize + h;
      }
    }
    return out;
  }

  /** Logits for one example given its feature rows (from `features`). */
  forwardFeatures(feats: Int32Array, pooled = new Float32Array(this.cfg.dim), act = new Float32Array(this.cfg.hidden)): Float32Array {
    const { dim, hidden, numClasses } = this.cfg;
    pooled.fill(0);
    const n = feats.length;
    for (let j = 0; j < n; j++) {
      const base = feats[j]! * dim;
      for (let d = 0; d < dim; d++) pooled[d]! += this.emb[base + d]!;
    }
    if (n > 0) for (let d = 0; d < dim; d++) pooled[d]! /= n;
    let x = pooled;
    if (hidden > 0) {
      for (let h = 0; h < hidden; h++) {
        let z = this.b1[h]!;
        for (let d = 0; d < dim; d++) z += pooled[d]! * this.w1[d * hidden + h]!;
        act[h] = z > 0 ? z : 0;
      }
      x = act;
    }
    const inW = x.length;
    const logits = new Float32Array(numClasses);
    for (let c = 0; c < numClasses; c++) {
      let z = this.b2[c]!;
      for (let i = 0; i < inW; i++) z += x[i]! * this.w2[i * numClasses + c]!;
      logits[c] = z;
    }
    return logits;
  }

  forward(ids: ArrayLike<number>): Float32Array {
    return this.forwardFeatures(this.features(ids));
  }

  /** Plain SGD, one example at a time, linearly decaying learning rate, seeded order. */
  train(feats: Int32Array[], labels: ArrayLike<number>, opts: TrainOptions): void {
    const { dim, hidden, numClasses } = this.cfg;
    const rng = new Rng(opts.seed);
    const l2 = opts.l2 ?? 0;
    const dropout = opts.dropout ?? 0;
    const N = feats.length;
    const kept = new Int32Array(feats.reduce((m, f) => Math.max(m, f.length), 1));
    const totalSteps = opts.epochs * N;
    const pooled = new Float32Array(dim);
    const act = new Float32Array(hidden);
    const g = new Float32Array(numClasses);
    const gAct = new Float32Array(hidden);
    const gPooled = new Float32Array(dim);
    let step = 0;
    for (let epoch = 0; epoch < opts.epochs; epoch++) {
      const order = rng.permutation(N);
      let lossSum = 0;
      for (let k = 0; k < N; k++) {
        const i = order[k]!;
        let f = feats[i]!;
        if (dropout > 0 && f.length > 1) {
          let m = 0;
          for (let j = 0; j < f.length; j++) if (rng.next() >= dropout) kept[m++] = f[j]!;
          if (m === 0) kept[m++] = f[rng.int(f.length)]!;
          f = kept.subarray(0, m);
        }
        const y = labels[i]!;
        const lr = opts.lr * (1 - step / totalSteps);
        step++;
        const logits = this.forwardFeatures(f, pooled, act);
        let max = -Infinity;
        for (let c = 0; c < numClasses; c++) max = Math.max(max, logits[c]!);
        let sum = 0;
        for (let c = 0; c < numClasses; c++) sum += Math.exp(logits[c]! - max);
        for (let c = 0; c < numClasses; c++) {
          const p = Math.exp(logits[c]! - max) / sum;
          g[c] = p - (c === y ? 1 : 0);
          if (c === y) lossSum -= Math.log(Math.max(p, 1e-12));
        }
        const x = hidden > 0 ? act : pooled;
        const inW = x.length;
        // output layer: gradient wrt its input first, then update
        const gx = hidden > 0 ? gAct : gPooled;
        for (let i2 = 0; i2 < inW; i2++) {
          let s = 0;
          for (let c = 0; c < numClasses; c++) s += this.w2[i2 * numClasses + c]! * g[c]!;
          gx[i2] = s;
          for (let c = 0; c < numClasses; c++) {
            const w = i2 * numClasses + c;
            this.w2[w]! -= lr * (x[i2]! * g[c]! + l2 * this.w2[w]!);
          }
        }
        for (let c = 0; c < numClasses; c++) this.b2[c]! -= lr * g[c]!;
        if (hidden > 0) {
          for (let h = 0; h < hidden; h++) if (act[h]! <= 0) gAct[h] = 0;
          for (let d = 0; d < dim; d++) {
            let s = 0;
            const row = d * hidden;
            for (let h = 0; h < hidden; h++) {
              const gh = gAct[h]!;
              if (gh === 0) continue;
              s += this.w1[row + h]! * gh;
              this.w1[row + h]! -= lr * (pooled[d]! * gh + l2 * this.w1[row + h]!);
            }
            gPooled[d] = s;
          }
          for (let h = 0; h < hidden; h++) this.b1[h]! -= lr * gAct[h]!;
        }
        const n = f.length;
        if (n === 0) continue;
        const scale = lr / n;
        for (let j = 0; j < n; j++) {
          const base = f[j]! * dim;
          for (let d = 0; d < dim; d++) this.emb[base + d]! -= scale * gPooled[d]!;
        }
      }
      opts.onEpoch?.(epoch + 1, lossSum / N);
    }
  }

  /** ONNX graph with the DistilBERT classifier interface. */
  toOnnx(docString = ''): Uint8Array {
    const { vocabSize, dim, hidden, numClasses, ngrams, buckets } = this.cfg;
    const g = new GraphBuilder('vigil_text_classifier');
    const ids = g.input('input_ids', 'int64', ['batch', 'sequence']);
    const mask = g.input('attention_mask', 'int64', ['batch', 'sequence']);
    const axis1 = g.ints('axis1', [1], [1]);
    const idParts = [ids];
    const maskParts = [mask];
    if (ngrams > 1) {
      const mul = g.ints('hash_mul', [], [HASH_MUL]);
      const mod = g.ints('hash_buckets', [], [buckets]);
      const off = g.ints('vocab_size', [], [vocabSize]);
      const big = g.ints('int64_max', [1], [9223372036854775807n]);
      const shifted = (x: string, start: number, endFromRight: number, tag: string) => {
        // x[:, start : S - endFromRight]
        const s = g.ints(`${tag}_start`, [1], [start]);
        const e = endFromRight === 0 ? big : g.ints(`${tag}_end`, [1], [-endFromRight]);
        return g.node('Slice', [x, s, e, axis1]);
      };
      for (let k = 2; k <= ngrams; k++) {
        let h = shifted(ids, 0, k - 1, `ids${k}_0`);
        let m = shifted(mask, 0, k - 1, `mask${k}_0`);
        for (let j = 1; j < k; j++) {
          const next = shifted(ids, j, k - 1 - j, `ids${k}_${j}`);
          h = g.node('Mod', [g.node('Add', [g.node('Mul', [h, mul]), next]), mod]);
          m = g.node('Mul', [m, shifted(mask, j, k - 1 - j, `mask${k}_${j}`)]);
        }
        idParts.push(g.node('Add', [h, off]));
        maskParts.push(m);
      }
    }
    const allIds = idParts.length > 1 ? g.node('Concat', idParts, { axis: 1 }) : ids;
    const allMask = maskParts.length > 1 ? g.node('Concat', maskParts, { axis: 1 }) : mask;
    const table = g.floats('embeddings', [this.emb.length / dim, dim], this.emb);
    const emb = g.node('Gather', [table, allIds], { axis: 0 }); // [B, T, D]
    const mf = g.node('Cast', [allMask], { to: 1 }); // float
    const mf3 = g.node('Unsqueeze', [mf, g.ints('axis2', [1], [2])]);
    const summed = g.node('ReduceSum', [g.node('Mul', [emb, mf3]), axis1], { keepdims: 0 }); // [B, D]
    const count = g.node('Max', [g.node('ReduceSum', [mf, axis1], { keepdims: 1 }), g.floats('one', [], [1])]); // [B, 1]
    let x = g.node('Div', [summed, count]);
    if (hidden > 0) {
      x = g.node('Relu', [g.node('Add', [g.node('MatMul', [x, g.floats('hidden.weight', [dim, hidden], this.w1)]), g.floats('hidden.bias', [hidden], this.b1)])]);
    }
    const inW = hidden > 0 ? hidden : dim;
    const logits = g.node('MatMul', [x, g.floats('classifier.weight', [inW, numClasses], this.w2)]);
    g.node('Add', [logits, g.floats('classifier.bias', [numClasses], this.b2)], {}, ['logits']);
    g.output('logits', 'float32', ['batch', numClasses]);
    return g.encode(docString);
  }
}
