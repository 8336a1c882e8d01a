import { linearScore, trainNbLogistic, type LinearScorer, type NbLogisticOptions } from './nb-logistic.js';
import { GraphBuilder } from './onnx-graph.js';
import { HASH_MUL } from './text-classifier.js';
import { UNK_ID } from './tokenizer.js';

/**
 * A linear text classifier over token ids and hashed bigrams of adjacent ids, whose evidence is
 * SUMMED (log-odds = bias + sum of the weights of a text's features), not averaged: a short text
 * carries little evidence, so its score stays near the prior unless its words are telling. A
 * mean-of-embeddings model gives one ordinary word of a three-word message a third of the
 * decision; in mail-trained spam filters that flagged short personal messages.
 *
 * `[UNK]` carries no evidence either way (unigram or inside a bigram): in the training mail,
 * unknown tokens are mostly spam's obfuscated strings, so a model that learnt a weight for it
 * called every text with words the mail never had ("iPhone", "mom") spammy.
 *
 * Rows of the weight table: [0, V) token ids, then `bigramBuckets` hashed bigram rows.
 */
export interface LinearTextConfig {
  vocabSize: number;
  /** Hash buckets for bigrams of adjacent ids; 0 = unigrams only. */
  bigramBuckets: number;
}

export function linearRows(cfg: LinearTextConfig): number {
  return cfg.vocabSize + cfg.bigramBuckets;
}

/** Feature rows of one unpadded id sequence ([CLS]/[SEP] included; anything with [UNK] left out). */
export function linearFeatures(cfg: LinearTextConfig, ids: ArrayLike<number>): Int32Array {
  const out: number[] = [];
  for (let t = 0; t < ids.length; t++) if (ids[t] !== UNK_ID) out.push(ids[t]!);
  if (cfg.bigramBuckets > 0) {
    for (let t = 0; t + 1 < ids.length; t++) {
      const a = ids[t]!;
      const b = ids[t + 1]!;
      if (a !== UNK_ID && b !== UNK_ID) out.push(cfg.vocabSize + ((a * HASH_MUL + b) % cfg.bigramBuckets));
    }
  }
  return Int32Array.from(out);
}

export interface LinearTextModel {
  cfg: LinearTextConfig;
  scorer: LinearScorer;
}

export function trainLinearText(cfg: LinearTextConfig, seqs: number[][], labels: number[], opts: NbLogisticOptions): LinearTextModel {
  if (cfg.vocabSize * HASH_MUL + cfg.vocabSize > Number.MAX_SAFE_INTEGER) throw new Error('bigram hash would overflow 2^53');
  return { cfg, scorer: trainNbLogistic(seqs.map((s) => linearFeatures(cfg, s)), labels, linearRows(cfg), opts) };
}

/** Logits [-z/2, z/2] for log-odds z, so softmax gives sigmoid(z) (what the graph outputs). */
export function linearLogits(model: LinearTextModel, ids: ArrayLike<number>): Float32Array {
  const z = linearScore(model.scorer, linearFeatures(model.cfg, ids));
  return Float32Array.of(-z / 2, z / 2);
}

/** The ONNX graph: input_ids, attention_mask -> logits, like a Hugging Face sequence classifier. */
export function linearTextOnnx(model: LinearTextModel, docString = ''): Uint8Array {
  const { vocabSize, bigramBuckets } = model.cfg;
  const rows = linearRows(model.cfg);
  const g = new GraphBuilder('vigil_linear_text');
  const ids = g.input('input_ids', 'int64', ['batch', 'sequence']);
  const mask = g.input('attention_mask', 'int64', ['batch', 'sequence']);
  const axis1 = g.ints('axis1', [1], [1]);
  // A position counts when it is real (mask) and not [UNK].
  const known = g.node('Mul', [mask, g.node('Cast', [g.node('Not', [g.node('Equal', [ids, g.ints('unk_id', [], [UNK_ID])])])], { to: 7 })]);
  let allIds = ids;
  let allKnown = known;
  if (bigramBuckets > 0) {
    const toEnd = 9223372036854775807n;
    const slice = (x: string, start: bigint, end: bigint) => g.node('Slice', [x, g.ints(g.tmp('slice_start'), [1], [start]), g.ints(g.tmp('slice_end'), [1], [end]), axis1]);
    const hash = g.node('Mod', [g.node('Add', [g.node('Mul', [slice(ids, 0n, -1n), g.ints('bigram.mul', [], [HASH_MUL])]), slice(ids, 1n, toEnd)]), g.ints('bigram.buckets', [], [bigramBuckets])]);
    allIds = g.node('Concat', [ids, g.node('Add', [hash, g.ints('bigram.offset', [], [vocabSize])])], { axis: 1 });
    allKnown = g.node('Concat', [known, g.node('Mul', [slice(known, 0n, -1n), slice(known, 1n, toEnd)])], { axis: 1 });
  }
  const table = new Float32Array(rows * 2);
  for (let r = 0; r < rows; r++) {
    table[2 * r] = -model.scorer.weights[r]! / 2;
    table[2 * r + 1] = model.scorer.weights[r]! / 2;
  }
  const gathered = g.node('Gather', [g.floats('linear.weight', [rows, 2], table), allIds], { axis: 0 }); // [B, T, 2]
  const weight = g.node('Unsqueeze', [g.node('Cast', [allKnown], { to: 1 }), g.ints('axis2', [1], [2])]);
  const summed = g.node('ReduceSum', [g.node('Mul', [gathered, weight]), axis1], { keepdims: 0 }); // [B, 2]
  const b = model.scorer.bias / 2;
  g.node('Add', [summed, g.floats('linear.bias', [2], [-b, b])], {}, ['logits']);
  g.output('logits', 'float32', ['batch', 2]);
  return g.encode(docString);
}
