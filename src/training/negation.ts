import type { GraphBuilder } from './onnx-graph.js';
import { SEP_ID } from './tokenizer.js';

/**
 * Negation scope for bag-of-words sentiment (Das & Chen 2001; Pang et al. 2002): every token after
 * a negation word up to the next clause punctuation is "negated", so "not good" and "good" are
 * different features. The tokenizer only emits words; the scope is computed from the ids, once
 * here (for training) and once inside the ONNX graph (for serving), with the same rule:
 *
 *   token t is in scope  <=>  some trigger s < t has no ender in (s, t]
 *
 * Enders themselves are never in scope, so a comma closes the scope and stays a plain comma.
 */

/** Words that open a scope. `n't` is one token with the `negation` pre-tokeniser. */
export const NEGATION_TRIGGERS = ['not', "n't", 'no', 'never', 'nothing', 'nowhere', 'none', 'nobody', 'nor', 'neither', 'cannot', 'without'];
/** Tokens that close it (clause punctuation; [SEP] is added so the end marker is never negated). */
export const NEGATION_ENDERS = ['.', ',', ':', ';', '!', '?'];

export interface NegationIds {
  triggers: Set<number>;
  enders: Set<number>;
}

/** The trigger and ender ids of a vocabulary (words it lacks are simply not triggers). */
export function negationIds(vocab: readonly string[]): NegationIds {
  return scopeIds(vocab, NEGATION_TRIGGERS, NEGATION_ENDERS);
}

/**
 * The same rule for another scope: trigger and ender ids of `vocab` for the given words ([SEP]
 * always ends a scope).
 */
export function scopeIds(vocab: readonly string[], triggers: readonly string[], enders: readonly string[]): NegationIds {
  const index = new Map(vocab.map((w, i) => [w, i]));
  const ids = (words: readonly string[]) => new Set(words.map((w) => index.get(w)).filter((i): i is number => i !== undefined));
  const end = ids(enders);
  end.add(SEP_ID);
  return { triggers: ids(triggers), enders: end };
}

/**
 * Contrast scope (the "A but B" rule of Hu et al. 2016, after Socher et al.'s analysis of SST):
 * after "but" and its kin, the clause that follows usually carries the sentence's sentiment, up to
 * the end of the sentence. Order-aware, with the negation scope's rule and graph.
 */
export const CONTRAST_TRIGGERS = ['but', 'however', 'nevertheless', 'nonetheless'];
export const CONTRAST_ENDERS = ['.', '!', '?', ';'];

/** 1 for each token in a negation scope, else 0. */
export function negationScope(ids: ArrayLike<number>, neg: NegationIds): Uint8Array {
  const out = new Uint8Array(ids.length);
  let open = false;
  for (let t = 0; t < ids.length; t++) {
    const id = ids[t]!;
    const ender = neg.enders.has(id);
    out[t] = open && !ender ? 1 : 0;
    if (ender) open = false;
    if (neg.triggers.has(id)) open = true;
  }
  return out;
}

/**
 * Adds the scope to a graph: a bool [B, T], true where a token is negated. With P the running
 * count of enders, "no ender in (s, t]" is P[s] == P[t], so scope[t] = OR over s < t of
 * trigger[s] AND P[s] == P[t] -- a [T, T] comparison per text, cheap for sentences (T <= 128) and
 * free of the loops ONNX cannot express without a Scan.
 */
export function negationScopeNode(g: GraphBuilder, ids: string, vocabSize: number, neg: NegationIds, prefix = 'negation'): string {
  // The flags are stored as uint8 (a byte per vocabulary id, not 4 or 8) and cast after the Gather: the same values.
  const flag = (set: Set<number>) => Uint8Array.from({ length: vocabSize }, (_, i) => (set.has(i) ? 1 : 0));
  const trig = g.node('Cast', [g.node('Gather', [g.uint8s(`${prefix}.trigger`, [vocabSize], flag(neg.triggers)), ids], { axis: 0 })], { to: 1 }); // [B,T] float
  const ender = g.node('Cast', [g.node('Gather', [g.uint8s(`${prefix}.ender`, [vocabSize], flag(neg.enders)), ids], { axis: 0 })], { to: 7 }); // [B,T] int64
  const one = g.ints(`${prefix}.axis1`, [1], [1]);
  const two = g.ints(`${prefix}.axis2`, [1], [2]);
  const p = g.node('CumSum', [ender, g.ints(`${prefix}.cumsum_axis`, [], [1])]);
  const same = g.node('Equal', [g.node('Unsqueeze', [p, two]), g.node('Unsqueeze', [p, one])]); // [B,T(t),T(s)]
  const len = g.node('Gather', [g.node('Shape', [ids]), g.ints(`${prefix}.seq_dim`, [], [1])], { axis: 0 });
  const pos = g.node('Range', [g.ints(`${prefix}.zero`, [], [0]), len, g.ints(`${prefix}.step`, [], [1])]); // [T]
  const before = g.node('Less', [g.node('Unsqueeze', [pos, g.ints(`${prefix}.axis0`, [1], [0])]), g.node('Unsqueeze', [pos, one])]); // [T(t),T(s)]: s < t
  const reach = g.node('Cast', [g.node('And', [same, before])], { to: 1 }); // [B,T,T] float
  const hits = g.node('MatMul', [reach, g.node('Unsqueeze', [trig, two])]); // [B,T,1]: triggers reaching t
  return g.node('Greater', [g.node('Squeeze', [hits, two]), g.floats(`${prefix}.zero_f`, [], [0])]);
}
