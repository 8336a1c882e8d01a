import { roundToHalf } from './float16.js';
import { quantizeRows, type Int8Rows } from './int8-rows.js';
import type { GraphBuilder } from './onnx-graph.js';
import { Rng } from './rng.js';

/**
 * A small convolutional text classifier (Kim 2014, "CNN-rand"), in plain typed-array math:
 *
 *   token embeddings [T, E] -> 1-D convolution, one group of filters per width -> ReLU
 *   -> max over time -> (dropout) -> dense -> 2 logits
 *
 * It sees word order, which the bag-of-words members do not: a width-3 filter can learn "not
 * very good" as a unit. The sequence is the tokenizer's ids as served ([CLS] ... [SEP]), so the
 * filters can also learn what starts or ends a text.
 *
 * Windows are anchored at their first token and read zeros past the end of the text. That is the
 * convention the ONNX graph can reproduce on a right-padded batch: the padded positions' embeddings
 * are masked to zero (so a window overlapping the padding reads zeros, as here), and a window
 * starting on padding is masked out after the ReLU. Since ReLU outputs are >= 0, max-pooling with
 * masked windows set to 0 equals max-pooling over the text's own windows -- no -inf needed.
 */
export interface TextCnnConfig {
  vocabSize: number;
  /** Embedding width. */
  dim: number;
  /** Filter widths in tokens; `filters` filters of each. */
  widths: number[];
  filters: number;
}

export interface TextCnnTrainOptions {
  epochs: number;
  batchSize: number;
  /** Adam step size, decayed linearly to 0 over the run. */
  lr: number;
  /** Dropout on the pooled features (inverted: kept features are scaled by 1/(1-p)). */
  dropout: number;
  seed: number;
  onEpoch?: (epoch: number, loss: number) => void;
}

/**
 * Pretrained word vectors for the embedding (Kim 2014's CNN-static / CNN-non-static, with a
 * projection): a row with a vector is `vector · P + offset`, P a trainable [width, dim] matrix
 * shared by all rows, so the table stays `dim` wide (what the graph stores) however wide the
 * vectors are, and a word no training example shows still gets a meaningful row (its vector's
 * projection) instead of zeros.
 *
 * - `static`: rows with a vector keep offset 0, only P moves them (they stay where the vectors
 *   put them relative to each other); rows without one (special tokens, words the vectors lack)
 *   start random and are learnt, as in CNN-rand.
 * - `fine-tuned`: every row also learns its own offset (starting at 0 for rows with a vector).
 */
export interface PretrainedEmbedding {
  /** [vocabSize, width]; zero rows where `found` is 0. */
  vectors: Float32Array;
  width: number;
  found: Uint8Array;
  mode: 'static' | 'fine-tuned';
}

/**
 * How the exported graph stores the CNN: `float16` keeps the embedding in float16 and the rest in
 * float32; `int8` stores the embedding as row-wise int8 codes with a float16 scale per row
 * (int8-rows.ts) and the convolution's weights in float16, about half the bytes, so that a wider
 * CNN fits beside the bag-of-words ensemble under the model-size limit.
 */
export type CnnStorage = 'float16' | 'int8';

/** Gradients of the loss of one example, laid out like the parameters (for tests and training). */
export interface TextCnnGradients {
  emb: Float32Array;
  conv: Float32Array;
  convBias: Float32Array;
  dense: Float32Array;
  denseBias: Float32Array;
}

const CLASSES = 2;
const ADAM = { beta1: 0.9, beta2: 0.999, eps: 1e-8 };

export class TextCnn {
  /** [vocabSize, dim]. */
  readonly emb: Float32Array;
  /** [F, K, dim], tap-major (K = widest filter; taps at or past a filter's width stay 0). */
  readonly conv: Float32Array;
  readonly convBias: Float32Array;
  /** [F, 2]. */
  readonly dense: Float32Array;
  readonly denseBias: Float32Array;
  /** Width of each filter. */
  readonly width: Int32Array;
  readonly F: number;
  readonly K: number;
  /** With pretrained vectors: P [width, dim] and each row's own offset [vocabSize, dim]; `emb` is then their result. */
  readonly proj?: Float32Array;
  readonly offset?: Float32Array;
  /** On an exported copy with int8 storage: the embedding's codes and scales (`emb` holds their values). */
  quantized?: Int8Rows;

  constructor(
    readonly cfg: TextCnnConfig,
    seed: number,
    readonly pretrained?: PretrainedEmbedding,
  ) {
    const { vocabSize, dim, widths, filters } = cfg;
    if (widths.length === 0 || widths.some((w) => !Number.isInteger(w) || w < 1)) throw new Error('filter widths must be positive integers');
    this.F = widths.length * filters;
    this.K = Math.max(...widths);
    this.width = Int32Array.from(widths.flatMap((w) => Array.from({ length: filters }, () => w)));
    const rng = new Rng(seed);
    this.emb = new Float32Array(vocabSize * dim);
    for (let i = 0; i < this.emb.length; i++) this.emb[i] = rng.normal() * 0.1;
    this.conv = new Float32Array(this.F * this.K * dim);
    for (let f = 0; f < this.F; f++) {
      // He initialisation over the filter's own fan-in (its width times the embedding width).
      const s = Math.sqrt(2 / (this.width[f]! * dim));
      for (let k = 0; k < this.width[f]!; k++) for (let e = 0; e < dim; e++) this.conv[(f * this.K + k) * dim + e] = rng.normal() * s;
    }
    this.convBias = new Float32Array(this.F);
    this.dense = new Float32Array(this.F * CLASSES);
    const s = Math.sqrt(1 / this.F);
    for (let i = 0; i < this.dense.length; i++) this.dense[i] = rng.normal() * s;
    this.denseBias = new Float32Array(CLASSES);
    if (pretrained) {
      if (pretrained.vectors.length !== vocabSize * pretrained.width || pretrained.found.length !== vocabSize) throw new Error('pretrained vectors must have one row per vocabulary id');
      // Its own stream, so that the CNN-rand draws above stay what they were.
      const prng = new Rng(seed ^ 0x5bd1e995);
      const ps = Math.sqrt(1 / pretrained.width); // a projected row about as large as a vector's components
      this.proj = Float32Array.from({ length: pretrained.width * dim }, () => prng.normal() * ps);
      // Rows without a vector keep their random start (CNN-rand's); rows with one start at their projection.
      this.offset = this.emb.slice();
      for (let r = 0; r < vocabSize; r++) if (pretrained.found[r]) this.offset.fill(0, r * dim, (r + 1) * dim);
      for (let r = 0; r < vocabSize; r++) this.refreshRow(r);
    }
  }

  /** With pretrained vectors: `emb` row r = vector(r) · P + offset(r). */
  private refreshRow(r: number): void {
    const pre = this.pretrained!;
    const { dim } = this.cfg;
    const W = pre.width;
    const out = r * dim;
    for (let e = 0; e < dim; e++) this.emb[out + e] = this.offset![out + e]!;
    if (!pre.found[r]) return;
    for (let i = 0; i < W; i++) {
      const x = pre.vectors[r * W + i]!;
      if (x === 0) continue;
      const p = i * dim;
      for (let e = 0; e < dim; e++) this.emb[out + e]! += x * this.proj![p + e]!;
    }
  }

  /** Whether row r's own offset is learnt (always without pretrained vectors). */
  private learnsOffset(r: number): boolean {
    return !this.pretrained || this.pretrained.mode === 'fine-tuned' || !this.pretrained.found[r];
  }

  /**
   * Pooled features of one unpadded id sequence, and for each filter the window that won the max
   * (-1 when every window is <= 0, so the filter passes no gradient).
   */
  private pool(ids: ArrayLike<number>, pooled: Float64Array, arg: Int32Array): void {
    const { dim } = this.cfg;
    const n = ids.length;
    for (let f = 0; f < this.F; f++) {
      let best = 0;
      let at = -1;
      const w = this.width[f]!;
      for (let t = 0; t < n; t++) {
        let z = this.convBias[f]!;
        for (let k = 0; k < w && t + k < n; k++) {
          const row = ids[t + k]! * dim;
          const base = (f * this.K + k) * dim;
          for (let e = 0; e < dim; e++) z += this.conv[base + e]! * this.emb[row + e]!;
        }
        if (z > best) {
          best = z;
          at = t;
        }
      }
      pooled[f] = best;
      arg[f] = at;
    }
  }

  /** Logits of one unpadded id sequence (no dropout). */
  forward(ids: ArrayLike<number>): Float32Array {
    const pooled = new Float64Array(this.F);
    this.pool(ids, pooled, new Int32Array(this.F));
    return this.head(pooled);
  }

  private head(h: Float64Array): Float32Array {
    const out = new Float32Array(CLASSES);
    for (let c = 0; c < CLASSES; c++) {
      let z = this.denseBias[c]!;
      for (let f = 0; f < this.F; f++) z += h[f]! * this.dense[f * CLASSES + c]!;
      out[c] = z;
    }
    return out;
  }

  /**
   * Cross-entropy of one example; adds its gradient, times `scale`, to `g`. `keep` is the dropout
   * mask of the pooled features (already scaled, 0 or 1/(1-p)); undefined = no dropout. Rows of
   * the embedding the example touched are reported to `touched`.
   */
  backward(ids: ArrayLike<number>, label: number, g: TextCnnGradients, scale = 1, keep?: Float64Array, touched?: (row: number) => void): number {
    const { dim } = this.cfg;
    const n = ids.length;
    const pooled = new Float64Array(this.F);
    const arg = new Int32Array(this.F);
    this.pool(ids, pooled, arg);
    const h = keep ? pooled.map((x, f) => x * keep[f]!) : pooled;
    const logits = this.head(h);
    const max = Math.max(logits[0]!, logits[1]!);
    const e0 = Math.exp(logits[0]! - max);
    const e1 = Math.exp(logits[1]! - max);
    const p1 = e1 / (e0 + e1);
    const gl = [(1 - p1 - (label === 0 ? 1 : 0)) * scale, (p1 - (label === 1 ? 1 : 0)) * scale];
    const loss = -Math.log(Math.max(label === 1 ? p1 : 1 - p1, 1e-12));
    for (let c = 0; c < CLASSES; c++) g.denseBias[c]! += gl[c]!;
    for (let f = 0; f < this.F; f++) {
      let gh = 0;
      for (let c = 0; c < CLASSES; c++) {
        g.dense[f * CLASSES + c]! += h[f]! * gl[c]!;
        gh += this.dense[f * CLASSES + c]! * gl[c]!;
      }
      const t = arg[f]!;
      if (t < 0) continue; // ReLU at 0 for every window: no gradient below
      const gz = keep ? gh * keep[f]! : gh;
      if (gz === 0) continue;
      g.convBias[f]! += gz;
      for (let k = 0; k < this.width[f]! && t + k < n; k++) {
        const id = ids[t + k]!;
        const row = id * dim;
        const base = (f * this.K + k) * dim;
        for (let e = 0; e < dim; e++) {
          g.conv[base + e]! += gz * this.emb[row + e]!;
          g.emb[row + e]! += gz * this.conv[base + e]!;
        }
        touched?.(id);
      }
    }
    return loss;
  }

  zeroGradients(): TextCnnGradients {
    return {
      emb: new Float32Array(this.emb.length),
      conv: new Float32Array(this.conv.length),
      convBias: new Float32Array(this.F),
      dense: new Float32Array(this.dense.length),
      denseBias: new Float32Array(CLASSES),
    };
  }

  /**
   * Mini-batch Adam with a linearly decaying step, seeded order and dropout. The embedding is
   * updated lazily: only the rows a batch touched take an Adam step (a dense step over the whole
   * table every batch would cost more than the batch itself). At the end, rows no training example
   * reached are set to zero: they hold only initialisation noise, which would otherwise reach the
   * filters for words the tokenizer knows from the lexicons but training never showed. With
   * pretrained vectors such a row keeps its vector's projection: the reason to have the vectors.
   */
  train(seqs: ArrayLike<number>[], labels: ArrayLike<number>, opts: TextCnnTrainOptions): void {
    const { dim, vocabSize } = this.cfg;
    const rng = new Rng(opts.seed);
    const N = seqs.length;
    const g = this.zeroGradients();
    const dense: Array<[Float32Array, Float32Array]> = [
      [this.conv, g.conv],
      [this.convBias, g.convBias],
      [this.dense, g.dense],
      [this.denseBias, g.denseBias],
    ];
    const moments = dense.map(([w]) => ({ m: new Float32Array(w.length), v: new Float32Array(w.length) }));
    const embM = new Float32Array(this.emb.length);
    const embV = new Float32Array(this.emb.length);
    // With pretrained vectors the learnt table is the offsets, and P takes its own Adam step.
    const pre = this.pretrained;
    const table = this.offset ?? this.emb;
    const gProj = new Float32Array(this.proj?.length ?? 0);
    const projM = new Float32Array(gProj.length);
    const projV = new Float32Array(gProj.length);
    const read = new Int32Array(vocabSize).fill(-1);
    // Per row, the step at which it was last updated (Adam's bias correction uses the global step).
    const stamp = new Int32Array(vocabSize).fill(-1);
    const seen = new Uint8Array(vocabSize);
    const rows: number[] = [];
    let step = 0;
    const batches = Math.ceil(N / opts.batchSize);
    const totalSteps = opts.epochs * batches;
    const keep = new Float64Array(this.F);
    const kept = 1 / (1 - opts.dropout);
    // Conv taps at or past a filter's width: never stepped, so the graph's single K-wide Conv equals the per-width filters.
    const live = new Uint8Array(this.conv.length);
    for (let f = 0; f < this.F; f++) for (let k = 0; k < this.width[f]!; k++) live.fill(1, (f * this.K + k) * dim, (f * this.K + k + 1) * dim);
    for (let epoch = 0; epoch < opts.epochs; epoch++) {
      const order = rng.permutation(N);
      let lossSum = 0;
      for (let b = 0; b < batches; b++) {
        const from = b * opts.batchSize;
        const to = Math.min(N, from + opts.batchSize);
        const scale = 1 / (to - from);
        rows.length = 0;
        if (pre) {
          // P moved at the last step: recompute the rows this batch reads (all rows would cost more than the batch).
          for (let j = from; j < to; j++) {
            const ids = seqs[order[j]!]!;
            for (let t = 0; t < ids.length; t++) {
              const r = ids[t]!;
              if (read[r] !== step) {
                read[r] = step;
                this.refreshRow(r);
              }
            }
          }
        }
        for (let j = from; j < to; j++) {
          const i = order[j]!;
          for (let f = 0; f < this.F; f++) keep[f] = opts.dropout > 0 && rng.next() < opts.dropout ? 0 : opts.dropout > 0 ? kept : 1;
          lossSum += this.backward(seqs[i]!, labels[i]!, g, scale, keep, (r) => {
            if (stamp[r] !== step) {
              stamp[r] = step;
              rows.push(r);
            }
          });
        }
        step++;
        const lr = opts.lr * (1 - (step - 1) / totalSteps);
        const c1 = 1 - ADAM.beta1 ** step;
        const c2 = 1 - ADAM.beta2 ** step;
        const adam = (w: Float32Array, grad: Float32Array, m: Float32Array, v: Float32Array, i: number) => {
          const gi = grad[i]!;
          m[i] = ADAM.beta1 * m[i]! + (1 - ADAM.beta1) * gi;
          v[i] = ADAM.beta2 * v[i]! + (1 - ADAM.beta2) * gi * gi;
          w[i]! -= (lr * (m[i]! / c1)) / (Math.sqrt(v[i]! / c2) + ADAM.eps);
          grad[i] = 0;
        };
        dense.forEach(([w, grad], p) => {
          const { m, v } = moments[p]!;
          for (let i = 0; i < w.length; i++) if (p !== 0 || live[i]) adam(w, grad, m, v, i);
        });
        for (const r of rows) {
          seen[r] = 1;
          if (pre?.found[r]) {
            // d loss / d P += vector(r)^T (d loss / d row r)
            const W = pre.width;
            for (let i = 0; i < W; i++) {
              const x = pre.vectors[r * W + i]!;
              if (x !== 0) for (let e = 0; e < dim; e++) gProj[i * dim + e]! += x * g.emb[r * dim + e]!;
            }
          }
          if (this.learnsOffset(r)) for (let e = r * dim; e < (r + 1) * dim; e++) adam(table, g.emb, embM, embV, e);
          else g.emb.fill(0, r * dim, (r + 1) * dim);
        }
        if (this.proj) for (let i = 0; i < gProj.length; i++) adam(this.proj, gProj, projM, projV, i);
      }
      opts.onEpoch?.(epoch + 1, lossSum / N);
    }
    // Rows no example reached lose their offset (noise); with pretrained vectors they keep their projection.
    for (let r = 0; r < vocabSize; r++) if (!seen[r]) table.fill(0, r * dim, (r + 1) * dim);
    if (pre) for (let r = 0; r < vocabSize; r++) this.refreshRow(r);
  }

  /**
   * The exported form: the embedding (with pretrained vectors: their projection plus the offsets,
   * folded into one table) rounded to what the graph stores (float16, or int8 codes times a
   * float16 scale per row, the convolution then in float16 too) and the dense layer scaled by
   * `weight` (the CNN's weight in the sum of logits), so the copy's `forward` is what the graph
   * computes.
   */
  exported(weight: number, storage: CnnStorage = 'float16'): TextCnn {
    const copy = new TextCnn(this.cfg, 0);
    if (storage === 'int8') {
      copy.quantized = quantizeRows(this.emb, this.cfg.dim);
      copy.emb.set(copy.quantized.values);
      copy.conv.set(roundToHalf(this.conv));
    } else {
      copy.emb.set(roundToHalf(this.emb));
      copy.conv.set(this.conv);
    }
    copy.convBias.set(this.convBias);
    copy.dense.set(this.dense.map((x) => x * weight));
    copy.denseBias.set(this.denseBias.map((x) => x * weight));
    return copy;
  }
}

/**
 * The CNN inside an ONNX graph: [B, T] int64 ids and their float mask [B, T] -> [B, 2] logits.
 * One Conv of the widest width with K-1 zeros of right padding serves every width (a narrower
 * filter's extra taps are zero); windows starting on padding are masked after the ReLU.
 */
export function textCnnNode(g: GraphBuilder, cnn: TextCnn, ids: string, maskF: string, prefix = 'cnn'): string {
  const { dim, vocabSize } = cnn.cfg;
  const { F, K } = cnn;
  const gather = (table: string) => g.node('Cast', [g.node('Gather', [table, ids], { axis: 0 })], { to: 1 });
  const q = cnn.quantized;
  const emb = q
    ? g.node('Mul', [gather(g.int8s(`${prefix}.embeddings.int8`, [vocabSize, dim], q.codes)), gather(g.halves(`${prefix}.embeddings.scale`, [vocabSize, 1], q.scales))])
    : gather(g.halves(`${prefix}.embeddings`, [vocabSize, dim], cnn.emb)); // [B,T,E]
  const masked = g.node('Mul', [emb, g.node('Unsqueeze', [maskF, g.ints(`${prefix}.axis2`, [1], [2])])]);
  const channels = g.node('Transpose', [masked], { perm: [0, 2, 1] }); // [B,E,T]
  // ONNX Conv weight is [F, E, K]; the trainer keeps [F, K, E].
  const w = new Float32Array(F * dim * K);
  for (let f = 0; f < F; f++) for (let k = 0; k < K; k++) for (let e = 0; e < dim; e++) w[(f * dim + e) * K + k] = cnn.conv[(f * K + k) * dim + e]!;
  // With int8 storage the weights are float16 (the trainer's copy holds them rounded), cast once when the session folds constants.
  const weight = q ? g.node('Cast', [g.halves(`${prefix}.conv.weight`, [F, dim, K], w)], { to: 1 }) : g.floats(`${prefix}.conv.weight`, [F, dim, K], w);
  const conv = g.node('Conv', [channels, weight, g.floats(`${prefix}.conv.bias`, [F], cnn.convBias)], { kernel_shape: [K], pads: [0, K - 1] }); // [B,F,T]
  const relu = g.node('Mul', [g.node('Relu', [conv]), g.node('Unsqueeze', [maskF, g.ints(`${prefix}.axis1`, [1], [1])])]);
  const pooled = g.node('ReduceMax', [relu], { axes: [2], keepdims: 0 }); // [B,F]
  return g.node('Gemm', [pooled, g.floats(`${prefix}.dense.weight`, [F, 2], cnn.dense), g.floats(`${prefix}.dense.bias`, [2], cnn.denseBias)]);
}
