import { roundToHalf } from './float16.js';
import { negationScopeNode } from './negation.js';
import { linearScore, type LinearScorer } from './nb-logistic.js';
import { GraphBuilder } from './onnx-graph.js';
import type { FeatureSpace } from './sentiment-features.js';
import { HASH_MUL, type TextClassifier } from './text-classifier.js';
import { textCnnNode, type CnnStorage, type TextCnn } from './text-cnn.js';

/**
 * The sentiment model: K fastText-style members (same features, different seeds) whose logits are
 * averaged, plus optionally an NB-weighted linear model over the same features, added to the
 * logit difference with weight `linearWeight`. All of it is one ONNX graph with the DistilBERT
 * classifier interface (input_ids, attention_mask -> logits), so the server needs nothing new.
 * Optionally a text CNN (order-aware) whose logits are added times `cnnWeight`; with no members
 * it stands alone.
 */
export interface SentimentParts {
  features: FeatureSpace;
  members: TextClassifier[];
  linear?: LinearScorer;
  linearWeight: number;
  cnn?: TextCnn;
  cnnWeight?: number;
  /** How the graph stores the CNN; absent = float16. */
  cnnStorage?: CnnStorage;
}

/** Logits of one unpadded id sequence from the trained parts (training-time view, float32). */
export function sentimentLogits(parts: SentimentParts, ids: ArrayLike<number>): Float32Array {
  const feats = parts.features.features(ids);
  const out = new Float32Array(2);
  for (const m of parts.members) {
    const l = m.forwardFeatures(feats);
    out[0]! += l[0]! / parts.members.length;
    out[1]! += l[1]! / parts.members.length;
  }
  if (parts.linear) {
    const half = (parts.linearWeight * linearScore(parts.linear, feats)) / 2;
    out[0]! -= half;
    out[1]! += half;
  }
  if (parts.cnn) {
    const c = parts.cnn.forward(ids);
    const w = parts.cnnWeight ?? 1;
    out[0]! += w * c[0]!;
    out[1]! += w * c[1]!;
  }
  return out;
}

/**
 * The exported form: each shifted id's bag of rows summed into one row of a float16 table with
 * the members side by side ([rows, K*dim]) and a count; the members' hidden layers as one
 * block-diagonal matrix, their output layers stacked and scaled by 1/K (exactly the mean of their
 * logits); the linear model as a [rows, 2] table that pushes the two logits apart.
 */
export interface FusedSentiment {
  features: FeatureSpace;
  dim: number;
  members: number;
  hidden: number;
  /** [rows, members*dim], values rounded to float16 (what the graph stores). */
  table: Float32Array;
  /** [rows]: how many training features each row stands for. */
  counts: Float32Array;
  w1: Float32Array;
  b1: Float32Array;
  w2: Float32Array;
  b2: Float32Array;
  /** [rows, 2] or undefined. */
  linear?: Float32Array;
  /** The CNN as exported (float16 or int8 embedding, dense layer times its weight), or undefined. */
  cnn?: TextCnn;
}

export function fuseSentiment(parts: SentimentParts): FusedSentiment {
  const { features, members } = parts;
  const K = members.length;
  // A CNN alone has no members: no table, and the bag part of the graph is left out.
  const { dim, hidden } = members[0]?.cfg ?? { dim: 0, hidden: 0 };
  if (members.some((m) => m.cfg.dim !== dim || m.cfg.hidden !== hidden)) throw new Error('ensemble members must share dim and hidden');
  const rows = features.fusedRows;
  const fused = members.map((m) => features.fuse(m.emb, dim));
  const table = new Float32Array(rows * K * dim);
  for (let r = 0; r < rows; r++) fused.forEach((f, k) => table.set(f.table.subarray(r * dim, (r + 1) * dim), (r * K + k) * dim));

  const w1 = new Float32Array(hidden > 0 ? K * dim * K * hidden : 0);
  const b1 = new Float32Array(K * hidden);
  members.forEach((m, k) => {
    for (let d = 0; d < dim; d++) for (let h = 0; h < hidden; h++) w1[(k * dim + d) * K * hidden + k * hidden + h] = m.w1[d * hidden + h]!;
    b1.set(m.b1, k * hidden);
  });
  const width = hidden > 0 ? hidden : dim;
  const w2 = new Float32Array(K * width * 2);
  const b2 = new Float32Array(2);
  members.forEach((m, k) => {
    for (let i = 0; i < width * 2; i++) w2[k * width * 2 + i] = m.w2[i]! / K;
    b2[0]! += m.b2[0]! / K;
    b2[1]! += m.b2[1]! / K;
  });
  let linear: Float32Array | undefined;
  if (parts.linear) {
    const half = parts.linearWeight / 2;
    const lin = features.fuse(parts.linear.weights, 1).table;
    linear = new Float32Array(rows * 2);
    for (let r = 0; r < rows; r++) {
      linear[2 * r] = -half * lin[r]!;
      linear[2 * r + 1] = half * lin[r]!;
    }
    b2[0]! -= half * parts.linear.bias;
    b2[1]! += half * parts.linear.bias;
  }
  const cnn = parts.cnn?.exported(parts.cnnWeight ?? 1, parts.cnnStorage);
  if (K === 0 && parts.linear) throw new Error('a linear part needs the members\' pooled features in the graph');
  return { features, dim, members: K, hidden, table: roundToHalf(table), counts: fused[0]?.counts ?? new Float32Array(0), w1, b1, w2, b2, linear, cnn };
}

/** Rows of the fused table one unpadded id sequence gathers (its shifted ids, then its bigram rows), and each one's weight. */
function fusedPositions(f: FusedSentiment, ids: ArrayLike<number>): { rows: number[]; weights: number[] } {
  const shifted = Array.from(f.features.shiftedIds(ids));
  const buckets = f.features.cfg.bigramBuckets;
  const out = [...shifted];
  const w = f.features.positionWeights(ids);
  const weights = shifted.map((_, t) => (w ? w[t]! : 1));
  if (buckets > 0) {
    for (let t = 0; t + 1 < shifted.length; t++) {
      out.push(f.features.shiftedRows + ((shifted[t]! * HASH_MUL + shifted[t + 1]!) % buckets));
      weights.push(1);
    }
  }
  return { rows: out, weights };
}

/** Logits of one unpadded id sequence, computed as the exported graph computes them. */
export function fusedLogits(f: FusedSentiment, ids: ArrayLike<number>): Float32Array {
  const logits = f.members > 0 ? bagLogits(f, ids) : new Float32Array(2);
  if (f.cnn) {
    const c = f.cnn.forward(ids);
    logits[0]! += c[0]!;
    logits[1]! += c[1]!;
  }
  return logits;
}

/** The members' (and linear part's) logits, as the graph computes them. */
function bagLogits(f: FusedSentiment, ids: ArrayLike<number>): Float32Array {
  const width = f.members * f.dim;
  const pooled = new Float64Array(width);
  let count = 0;
  const logits = new Float32Array(2);
  let lin0 = 0;
  let lin1 = 0;
  const { rows, weights } = fusedPositions(f, ids);
  rows.forEach((r, j) => {
    const k = weights[j]!;
    for (let c = 0; c < width; c++) pooled[c]! += k * f.table[r * width + c]!;
    count += k * f.counts[r]!;
    if (f.linear) {
      lin0 += k * f.linear[2 * r]!;
      lin1 += k * f.linear[2 * r + 1]!;
    }
  });
  for (let c = 0; c < width; c++) pooled[c]! /= Math.max(count, 1);
  let x: ArrayLike<number> = pooled;
  if (f.hidden > 0) {
    const kh = f.members * f.hidden;
    const act = new Float64Array(kh);
    for (let h = 0; h < kh; h++) {
      let z = f.b1[h]!;
      for (let c = 0; c < width; c++) z += pooled[c]! * f.w1[c * kh + h]!;
      act[h] = z > 0 ? z : 0;
    }
    x = act;
  }
  for (let o = 0; o < 2; o++) {
    let z = f.b2[o]! + (o === 0 ? lin0 : lin1);
    for (let i = 0; i < x.length; i++) z += x[i]! * f.w2[i * 2 + o]!;
    logits[o] = z;
  }
  return logits;
}

/** The ONNX graph of a fused model. */
export function sentimentOnnx(f: FusedSentiment, docString = ''): Uint8Array {
  const { features } = f;
  const K = f.members;
  const g = new GraphBuilder('vigil_sentiment');
  const ids = g.input('input_ids', 'int64', ['batch', 'sequence']);
  const mask = g.input('attention_mask', 'int64', ['batch', 'sequence']);

  const cnnLogits = f.cnn ? textCnnNode(g, f.cnn, ids, g.node('Cast', [mask], { to: 1 })) : undefined;
  if (K === 0) {
    if (!cnnLogits) throw new Error('a sentiment model needs members or a CNN');
    g.node('Identity', [cnnLogits], {}, ['logits']);
    g.output('logits', 'float32', ['batch', 2]);
    return g.encode(docString);
  }
  const axis1 = g.ints('axis1', [1], [1]);
  const axis2 = g.ints('axis2', [1], [2]);

  let shifted = ids;
  if (features.negation) {
    const scope = negationScopeNode(g, ids, features.vocabSize, features.negation);
    // Row ids fit in int32 (half of int64's bytes); cast back after the Gather for Where's int64 ids.
    const negatedRow = g.node('Cast', [g.node('Gather', [g.int32s('negation.row', [features.vocabSize], Int32Array.from(features.negatedRow)), ids], { axis: 0 })], { to: 7 });
    shifted = g.node('Where', [scope, negatedRow, ids]);
  }
  let allIds = shifted;
  let allMask = mask;
  const buckets = features.cfg.bigramBuckets;
  if (buckets > 0) {
    // Pairs (t, t+1): the sequence without its last and without its first position.
    const slice = (x: string, start: bigint, end: bigint) => g.node('Slice', [x, g.ints(g.tmp('slice_start'), [1], [start]), g.ints(g.tmp('slice_end'), [1], [end]), axis1]);
    const toEnd = 9223372036854775807n;
    const hash = g.node('Mod', [g.node('Add', [g.node('Mul', [slice(shifted, 0n, -1n), g.ints('bigram.mul', [], [HASH_MUL])]), slice(shifted, 1n, toEnd)]), g.ints('bigram.buckets', [], [buckets])]);
    const bigramMask = g.node('Mul', [slice(mask, 0n, -1n), slice(mask, 1n, toEnd)]);
    allIds = g.node('Concat', [shifted, g.node('Add', [hash, g.ints('bigram.offset', [], [features.shiftedRows])])], { axis: 1 });
    allMask = g.node('Concat', [mask, bigramMask], { axis: 1 });
  }
  let maskF = g.node('Cast', [allMask], { to: 1 }); // [B,T] float
  if (features.contrast) {
    // Position weight: 1, or `contrast` inside a contrast scope ("but ..." to the end of the sentence).
    const scope = g.node('Cast', [negationScopeNode(g, ids, features.vocabSize, features.contrast, 'contrast')], { to: 1 });
    const weight = g.node('Add', [g.floats('contrast.one', [], [1]), g.node('Mul', [scope, g.floats('contrast.extra', [], [features.cfg.contrast! - 1])])]);
    maskF = g.node('Mul', [maskF, weight]);
  }
  const mask3 = g.node('Unsqueeze', [maskF, axis2]);

  // Mean of the features: sum of fused rows over the sum of their feature counts.
  const rows = features.fusedRows;
  const width = K * f.dim;
  const emb = g.node('Cast', [g.node('Gather', [g.halves('embeddings', [rows, width], f.table), allIds], { axis: 0 })], { to: 1 });
  const summed = g.node('ReduceSum', [g.node('Mul', [emb, mask3]), axis1], { keepdims: 0 });
  const perPosition = features.needsCounts ? g.node('Mul', [g.node('Gather', [countsTable(g, f.counts), allIds], { axis: 0 }), maskF]) : maskF;
  const count = g.node('Max', [g.node('ReduceSum', [perPosition, axis1], { keepdims: 1 }), g.floats('one', [], [1])]);
  let x = g.node('Div', [summed, count]); // [B, K*dim]
  let inW = width;
  if (f.hidden > 0) {
    const kh = K * f.hidden;
    x = g.node('Relu', [g.node('Add', [g.node('MatMul', [x, g.floats('hidden.weight', [width, kh], f.w1)]), g.floats('hidden.bias', [kh], f.b1)])]);
    inW = kh;
  }
  let logits = g.node('MatMul', [x, g.floats('classifier.weight', [inW, 2], f.w2)]);
  if (f.linear) {
    const gathered = g.node('Gather', [g.floats('linear.weight', [rows, 2], f.linear), allIds], { axis: 0 });
    logits = g.node('Add', [logits, g.node('ReduceSum', [g.node('Mul', [gathered, mask3]), axis1], { keepdims: 0 })]);
  }
  const bag = g.node('Add', [logits, g.floats('classifier.bias', [2], f.b2)], {}, cnnLogits ? undefined : ['logits']);
  if (cnnLogits) g.node('Add', [bag, cnnLogits], {}, ['logits']);
  g.output('logits', 'float32', ['batch', 2]);
  return g.encode(docString);
}

/**
 * The feature counts as a float [rows] tensor: stored in float16 and cast when every count is a
 * float16 value (small whole numbers are; half the bytes), else in float32 -- the graph's values
 * are the same either way.
 */
function countsTable(g: GraphBuilder, counts: Float32Array): string {
  const halves = roundToHalf(counts);
  if (halves.every((x, i) => x === counts[i])) return g.node('Cast', [g.halves('feature_counts', [counts.length], counts)], { to: 1 });
  return g.floats('feature_counts', [counts.length], counts);
}
