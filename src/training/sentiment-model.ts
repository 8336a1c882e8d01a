import { negatedIdsNode } from './negation.js';
import { linearScore, type LinearScorer } from './nb-logistic.js';
import { GraphBuilder } from './onnx-graph.js';
import type { FeatureSpace } from './sentiment-features.js';
import { HASH_MUL, type TextClassifier } from './text-classifier.js';

/**
 * The sentiment model: K fastText-style members (same features, different seeds) whose logits are
 * averaged, plus optionally an NB-weighted linear model over the same features, added to the
 * logit difference with weight `linearWeight`. All of it is one ONNX graph with the DistilBERT
 * classifier interface (input_ids, attention_mask -> logits), so the server needs nothing new.
 */
export interface SentimentParts {
  features: FeatureSpace;
  members: TextClassifier[];
  linear?: LinearScorer;
  linearWeight: number;
}

/** Logits of one unpadded id sequence, as the exported graph computes them. */
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
  return out;
}

/**
 * The graph. Members' fused tables sit side by side ([rows, K*dim]) so one Gather serves them all;
 * their hidden layers form one block-diagonal matrix and their output layers one stacked matrix
 * scaled by 1/K, which is exactly the mean of the members' logits.
 */
export function sentimentOnnx(parts: SentimentParts, docString = ''): Uint8Array {
  const { features, members } = parts;
  const K = members.length;
  const { dim, hidden } = members[0]!.cfg;
  if (members.some((m) => m.cfg.dim !== dim || m.cfg.hidden !== hidden)) throw new Error('ensemble members must share dim and hidden');
  const g = new GraphBuilder('vigil_sentiment');
  const ids = g.input('input_ids', 'int64', ['batch', 'sequence']);
  const mask = g.input('attention_mask', 'int64', ['batch', 'sequence']);
  const axis1 = g.ints('axis1', [1], [1]);
  const axis2 = g.ints('axis2', [1], [2]);

  const shifted = features.negation ? negatedIdsNode(g, ids, features.vocabSize, features.negation) : ids;
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
  const maskF = g.node('Cast', [allMask], { to: 1 }); // [B,T] float

  // Mean of the features: sum of fused rows over sum of their feature counts.
  const fused = members.map((m) => features.fuse(m.emb, dim));
  const rows = features.fusedRows;
  const table = new Float32Array(rows * K * dim);
  for (let r = 0; r < rows; r++) fused.forEach((f, k) => table.set(f.table.subarray(r * dim, (r + 1) * dim), (r * K + k) * dim));
  const emb = g.node('Gather', [g.floats('embeddings', [rows, K * dim], table), allIds], { axis: 0 });
  const summed = g.node('ReduceSum', [g.node('Mul', [emb, g.node('Unsqueeze', [maskF, axis2])]), axis1], { keepdims: 0 });
  const perPosition = features.needsCounts ? g.node('Mul', [g.node('Gather', [g.floats('feature_counts', [rows], fused[0]!.counts), allIds], { axis: 0 }), maskF]) : maskF;
  const count = g.node('Max', [g.node('ReduceSum', [perPosition, axis1], { keepdims: 1 }), g.floats('one', [], [1])]);
  let x = g.node('Div', [summed, count]); // [B, K*dim]

  let width = dim;
  if (hidden > 0) {
    const w1 = new Float32Array(K * dim * K * hidden);
    members.forEach((m, k) => {
      for (let d = 0; d < dim; d++) for (let h = 0; h < hidden; h++) w1[(k * dim + d) * K * hidden + k * hidden + h] = m.w1[d * hidden + h]!;
    });
    const b1 = new Float32Array(K * hidden);
    members.forEach((m, k) => b1.set(m.b1, k * hidden));
    x = g.node('Relu', [g.node('Add', [g.node('MatMul', [x, g.floats('hidden.weight', [K * dim, K * hidden], w1)]), g.floats('hidden.bias', [K * hidden], b1)])]);
    width = hidden;
  }
  const w2 = new Float32Array(K * width * 2);
  const b2 = new Float32Array(2);
  members.forEach((m, k) => {
    for (let i = 0; i < width * 2; i++) w2[k * width * 2 + i] = m.w2[i]! / K;
    b2[0]! += m.b2[0]! / K;
    b2[1]! += m.b2[1]! / K;
  });
  let logits = g.node('MatMul', [x, g.floats('classifier.weight', [K * width, 2], w2)]);

  if (parts.linear) {
    // score * weight / 2 pushed apart on the two logits: the logit difference moves by weight * score.
    const half = parts.linearWeight / 2;
    const lin = features.fuse(parts.linear.weights, 1).table;
    const pair = new Float32Array(rows * 2);
    for (let r = 0; r < rows; r++) {
      pair[2 * r] = -half * lin[r]!;
      pair[2 * r + 1] = half * lin[r]!;
    }
    const gathered = g.node('Gather', [g.floats('linear.weight', [rows, 2], pair), allIds], { axis: 0 });
    logits = g.node('Add', [logits, g.node('ReduceSum', [g.node('Mul', [gathered, g.node('Unsqueeze', [maskF, axis2])]), axis1], { keepdims: 0 })]);
    b2[0]! -= half * parts.linear.bias;
    b2[1]! += half * parts.linear.bias;
  }
  g.node('Add', [logits, g.floats('classifier.bias', [2], b2)], {}, ['logits']);
  g.output('logits', 'float32', ['batch', 2]);
  return g.encode(docString);
}
