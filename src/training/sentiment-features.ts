import { HASH_MUL } from './text-classifier.js';
import { CONTRAST_ENDERS, CONTRAST_TRIGGERS, negationIds, negationScope, scopeIds, type NegationIds } from './negation.js';
import { SPECIAL_TOKENS } from './tokenizer.js';
import { loadLexicon, RATING_CLASSES, ratingClass } from './data/lexicon.js';
import { AFINN_CLASSES, afinnClass, loadAfinn } from './data/afinn.js';

/**
 * The features the sentiment model averages, as rows of one embedding table:
 *
 *   [0, V)                      token ids
 *   [V, V + N)                  negated words (when negation is on): the N words that occur inside a
 *                               negation scope in the training rows; elsewhere a negated word keeps
 *                               its plain row, since a row no example reached would only add noise
 *   then `subwordBuckets` rows  hashed character n-grams of each vocabulary word (fastText)
 *   then 8 (16 with negation)   lexicon rows: one per rounded VADER rating (-4..-1, 1..4), and
 *                               with negation one per rating of a negated word
 *   then 10 (20 with negation)  AFINN-165 rows, the same for its ratings (-5..-1, 1..5)
 *   then `bigramBuckets` rows   hashed pairs of adjacent (negation-shifted) ids
 *
 * Each position of a text contributes the BAG of its shifted id: the id itself, for a negated id
 * also the plain word (so "not good" shares what was learnt about "good"), and the word's
 * character n-grams. Everything in a bag depends on the id alone, so the exported graph needs no
 * sub-word machinery: `fuse` folds each bag into one row (their sum) and a count (their number),
 * and the graph divides the sum of gathered rows by the sum of gathered counts -- exactly the
 * mean over all features the trainer computes.
 *
 * With `contrast`, a position inside a contrast scope (after "but", "however", ... up to the end of
 * the sentence) counts `contrast` times: its bag is repeated, so the clause after "but" weighs more
 * in the mean. The graph computes the same scope from the ids and weights the position.
 */
export interface FeatureConfig {
  negation: boolean;
  /** Hash buckets for character n-grams; 0 = no sub-word features. */
  subwordBuckets: number;
  /** Character n-gram lengths (fastText: 3..6), over the word wrapped in `<` `>`. */
  subwordMin: number;
  subwordMax: number;
  /** Hash buckets for bigrams of adjacent ids; 0 = none. */
  bigramBuckets: number;
  /**
   * Lexicon knowledge (src/training/data/lexicon.ts): a word the VADER lexicon rates also gets the
   * row of its rounded rating, shared by all words so rated, so a word the training rows never
   * show (added to the vocabulary from the lexicon) still carries what its rating class learnt.
   */
  lexicon?: boolean;
  /** A second lexicon, AFINN-165 (src/training/data/afinn.ts), the same way: one row per rating -5..-1, 1..5. */
  afinn?: boolean;
  /** How many times a position in a contrast scope counts (an integer >= 2); absent or 1 = no contrast scope. */
  contrast?: number;
}

export const PLAIN_FEATURES: FeatureConfig = { negation: false, subwordBuckets: 0, subwordMin: 3, subwordMax: 6, bigramBuckets: 0 };

/** FNV-1a over UTF-16 code units: a fixed, seed-free hash so a vocabulary always maps to the same buckets. */
function fnv1a(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 16777619) >>> 0;
  }
  return h;
}

export function charNgrams(word: string, min: number, max: number): string[] {
  const s = `<${word}>`;
  const out: string[] = [];
  for (let n = min; n <= max; n++) for (let i = 0; i + n <= s.length; i++) if (n < s.length) out.push(s.slice(i, i + n));
  return out;
}

export class FeatureSpace {
  readonly vocabSize: number;
  readonly negation?: NegationIds;
  /** Contrast-scope trigger/ender ids, when `contrast` > 1. */
  readonly contrast?: NegationIds;
  /** Rows the graph gathers per position: V, plus the negated words. */
  readonly shiftedRows: number;
  /** Per vocabulary id, the row it takes inside a negation scope (its own id when never seen negated). */
  readonly negatedRow: Int32Array;
  /** Rows of the training table. */
  readonly rows: number;
  private readonly subwordBase: number;
  private readonly lexiconBase: number;
  private readonly afinnBase: number;
  private readonly bigramBase: number;
  private readonly bags: Int32Array[];

  /** `negatedWords`: the ids that get a negated row (see `seenNegated`); needed when negation is on. */
  constructor(
    vocab: readonly string[],
    readonly cfg: FeatureConfig,
    negatedWords: Iterable<number> = [],
  ) {
    const V = (this.vocabSize = vocab.length);
    if (cfg.negation) this.negation = negationIds(vocab);
    if ((cfg.contrast ?? 1) > 1) {
      if (!Number.isInteger(cfg.contrast)) throw new Error('contrast must be an integer');
      if (cfg.bigramBuckets > 0) throw new Error('contrast weighting is not defined for bigram rows');
      this.contrast = scopeIds(vocab, CONTRAST_TRIGGERS, CONTRAST_ENDERS);
    }
    this.negatedRow = Int32Array.from({ length: V }, (_, i) => i);
    const negated = cfg.negation ? [...new Set(negatedWords)].sort((a, b) => a - b) : [];
    negated.forEach((w, j) => (this.negatedRow[w] = V + j));
    this.shiftedRows = V + negated.length;
    this.subwordBase = this.shiftedRows;
    this.lexiconBase = this.subwordBase + cfg.subwordBuckets;
    this.afinnBase = this.lexiconBase + (cfg.lexicon ? RATING_CLASSES * (cfg.negation ? 2 : 1) : 0);
    this.bigramBase = this.afinnBase + (cfg.afinn ? AFINN_CLASSES * (cfg.negation ? 2 : 1) : 0);
    this.rows = this.bigramBase + cfg.bigramBuckets;
    if (this.shiftedRows * HASH_MUL + this.shiftedRows > Number.MAX_SAFE_INTEGER) throw new Error('bigram hash would overflow 2^53');
    const special = new Set<string>(SPECIAL_TOKENS);
    const pieces = vocab.map((w) =>
      cfg.subwordBuckets > 0 && !special.has(w) ? [...new Set(charNgrams(w, cfg.subwordMin, cfg.subwordMax).map((g) => this.subwordBase + (fnv1a(g) % cfg.subwordBuckets)))] : [],
    );
    const lexicon = cfg.lexicon ? loadLexicon() : undefined;
    const rating = vocab.map((w) => (lexicon && lexicon.has(w) ? ratingClass(lexicon.get(w)!) : undefined));
    const afinn = cfg.afinn ? loadAfinn() : undefined;
    const afinnRating = vocab.map((w) => (afinn && afinn.has(w) ? afinnClass(afinn.get(w)!) : undefined));
    const lex = (id: number, negatedWord: boolean) => [
      ...(rating[id] === undefined ? [] : [this.lexiconBase + (negatedWord ? RATING_CLASSES : 0) + rating[id]!]),
      ...(afinnRating[id] === undefined ? [] : [this.afinnBase + (negatedWord ? AFINN_CLASSES : 0) + afinnRating[id]!]),
    ];
    this.bags = Array.from({ length: V }, (_, id) => Int32Array.from([id, ...pieces[id]!, ...lex(id, false)]));
    for (const w of negated) this.bags.push(Int32Array.from([this.negatedRow[w]!, w, ...pieces[w]!, ...lex(w, true)]));
  }

  /** The words that occur inside a negation scope in `seqs` (the training rows). */
  static seenNegated(vocab: readonly string[], seqs: ArrayLike<number>[]): Set<number> {
    const neg = negationIds(vocab);
    const seen = new Set<number>();
    for (const ids of seqs) {
      const scope = negationScope(ids, neg);
      for (let t = 0; t < ids.length; t++) if (scope[t]) seen.add(ids[t]!);
    }
    return seen;
  }

  /** Ids moved to their negated rows inside a negation scope (what the graph computes first). */
  shiftedIds(ids: ArrayLike<number>): Int32Array {
    const out = Int32Array.from(ids as ArrayLike<number>);
    if (!this.negation) return out;
    const scope = negationScope(ids, this.negation);
    for (let t = 0; t < out.length; t++) if (scope[t]) out[t] = this.negatedRow[out[t]!]!;
    return out;
  }

  /** How many times each position counts: `contrast` inside a contrast scope, else 1 (undefined: all 1). */
  positionWeights(ids: ArrayLike<number>): Uint8Array | undefined {
    if (!this.contrast) return undefined;
    const scope = negationScope(ids, this.contrast);
    const k = this.cfg.contrast!;
    for (let t = 0; t < scope.length; t++) scope[t] = scope[t] ? k : 1;
    return scope;
  }

  /** Training-table rows of one unpadded id sequence: every position's bag (repeated by its weight), then hashed bigrams. */
  features(ids: ArrayLike<number>): Int32Array {
    const shifted = this.shiftedIds(ids);
    const weights = this.positionWeights(ids);
    const out: number[] = [];
    for (let t = 0; t < shifted.length; t++) for (let k = weights ? weights[t]! : 1; k > 0; k--) for (const r of this.bags[shifted[t]!]!) out.push(r);
    const buckets = this.cfg.bigramBuckets;
    if (buckets > 0) for (let t = 0; t + 1 < shifted.length; t++) out.push(this.bigramBase + ((shifted[t]! * HASH_MUL + shifted[t + 1]!) % buckets));
    return Int32Array.from(out);
  }

  /** Rows of the exported table: one per shifted id, then the bigram buckets. */
  get fusedRows(): number {
    return this.shiftedRows + this.cfg.bigramBuckets;
  }

  /**
   * Folds a training table [rows, cols] into the exported one [fusedRows, cols] (each shifted id's
   * bag summed; bigram rows copied) and the number of features each exported row stands for.
   */
  fuse(table: Float32Array, cols: number): { table: Float32Array; counts: Float32Array } {
    const out = new Float32Array(this.fusedRows * cols);
    const counts = new Float32Array(this.fusedRows).fill(1);
    this.bags.forEach((bag, e) => {
      counts[e] = bag.length;
      for (const r of bag) for (let c = 0; c < cols; c++) out[e * cols + c]! += table[r * cols + c]!;
    });
    out.set(table.subarray(this.bigramBase * cols, this.rows * cols), this.shiftedRows * cols);
    return { table: out, counts };
  }

  /** True when some exported row stands for more than one feature, so the graph must gather counts. */
  get needsCounts(): boolean {
    return this.cfg.negation || this.cfg.subwordBuckets > 0 || Boolean(this.cfg.lexicon) || Boolean(this.cfg.afinn);
  }
}
