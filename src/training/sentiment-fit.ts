import { splitSst2, sentenceRows, type LabelledText } from './data/sst2.js';
import { argmax } from './metrics.js';
import { trainNbLogistic } from './nb-logistic.js';
import { FeatureSpace, PLAIN_FEATURES, type FeatureConfig } from './sentiment-features.js';
import { sentimentLogits, type SentimentParts } from './sentiment-model.js';
import { TextClassifier } from './text-classifier.js';
import { TextCnn, type CnnStorage, type PretrainedEmbedding } from './text-cnn.js';
import { buildVocab, loadTokenizer, preTokenize, writeTokenizer, type PreTokenization, type TextTokenizer } from './tokenizer.js';
import { loadLexicon } from './data/lexicon.js';
import { loadAfinn } from './data/afinn.js';
import { loadWordVectors, vocabularyVectors } from './data/word-vectors.js';

/** One configuration of the sentiment model, as measured by the ablation and trained by `vigil train`. */
export interface SentimentVariant {
  name: string;
  preTokenization: PreTokenization;
  features: FeatureConfig;
  dim: number;
  /** ReLU hidden layer width; 0 = linear head. */
  hidden: number;
  epochs: number;
  lr: number;
  /** Word (feature) dropout during training. */
  dropout: number;
  /** L2 on the dense layers. */
  l2: number;
  /** Ensemble size: members trained with seeds seed, seed+1, ... and averaged. */
  members: number;
  /** Weight of the NB-weighted logistic regression added to the logit difference; 0 = none. */
  linearWeight: number;
  /**
   * Early stopping: keep each member's weights from the epoch with the best accuracy on a
   * validation part of the training rows (the caller supplies it; never the held-out split).
   */
  earlyStopping: boolean;
  /**
   * Which SST-2 rows to train on: every labelled phrase, only the full sentences (rows that are no
   * span of a longer row), or every phrase plus the full sentences a second time.
   */
  rows: 'phrases' | 'sentences' | 'phrases + sentences';
  /**
   * An order-aware part: a small text CNN over the served ids (src/training/text-cnn.ts), its
   * logits added to the others' times `cnnWeight` (default 1). With `members: 0` and no linear
   * part it is the whole model.
   */
  cnn?: CnnSettings;
  cnnWeight?: number;
}

/** The text CNN's shape and training (see TextCnnConfig and TextCnnTrainOptions). */
export interface CnnSettings {
  dim: number;
  widths: number[];
  filters: number;
  epochs: number;
  lr: number;
  batchSize: number;
  dropout: number;
  /**
   * Pretrained word vectors (src/training/data/word-vectors.ts) for the embedding, projected to
   * `dim` (see PretrainedEmbedding in text-cnn.ts); absent = random initialisation (CNN-rand).
   */
  vectors?: 'static' | 'fine-tuned';
  /** How the graph stores the trained CNN (see CnnStorage); absent = float16. Export only: training is the same. */
  storage?: CnnStorage;
}

/** The configuration of version 1 before this work (kept as the ablation's baseline). */
export const BASELINE: SentimentVariant = {
  name: 'baseline: v1 (BERT words, d32, ReLU 32, dropout 0.3, 5 epochs)',
  preTokenization: 'bert',
  features: PLAIN_FEATURES,
  dim: 32,
  hidden: 32,
  epochs: 5,
  lr: 0.05,
  dropout: 0.3,
  l2: 0,
  members: 1,
  linearWeight: 0,
  earlyStopping: false,
  rows: 'phrases',
};

export const VOCAB_LIMITS = { minCount: 1, maxSize: 50_000 };

/** Which lexicons add their words to the vocabulary: `true` is VADER alone (as before AFINN). */
export type LexiconWords = boolean | { vader?: boolean; afinn?: boolean };

/** The lexicons a feature configuration uses. */
export function lexiconsOf(f: FeatureConfig): { vader: boolean; afinn: boolean } {
  return { vader: Boolean(f.lexicon), afinn: Boolean(f.afinn) };
}

/**
 * Writes the tokenizer for `texts` into `dir` and loads it back the way the server does. With
 * `lexicon`, the lexicons' words the texts lack are appended to the vocabulary (after the counted
 * words, alphabetically), so they get ids instead of [UNK] and the model can use their rating.
 */
export async function buildSentimentTokenizer(dir: string, texts: string[], style: PreTokenization, maxLength: number, lexicon: LexiconWords = false): Promise<{ tok: TextTokenizer; vocab: string[] }> {
  const vocab = buildVocab(texts, { ...VOCAB_LIMITS, preTokenization: style });
  const use = typeof lexicon === 'boolean' ? { vader: lexicon, afinn: false } : lexicon;
  if (use.vader || use.afinn) {
    const known = new Set(vocab);
    const words = new Set([...(use.vader ? loadLexicon().keys() : []), ...(use.afinn ? loadAfinn().keys() : [])]);
    const extra = [...words].filter((w) => !known.has(w) && preTokenize(w, style).join(' ') === w).sort();
    vocab.push(...extra);
  }
  writeTokenizer(dir, vocab, maxLength, style);
  return { tok: await loadTokenizer(dir, maxLength), vocab };
}

/**
 * The rows a variant trains on, and with early stopping the validation sentences it stops on: a
 * leak-free split (seed + 100, 500 sentences) of the training rows, never of the held-out split.
 */
export function trainingSelection(rows: LabelledText[], v: SentimentVariant, seed: number): { fit: LabelledText[]; validation?: LabelledText[] } {
  let fit = v.rows === 'sentences' ? sentenceRows(rows) : v.rows === 'phrases + sentences' ? [...rows, ...sentenceRows(rows)] : rows;
  if (!v.earlyStopping) return { fit };
  const inner = splitSst2(fit, { seed: seed + 100, testSize: 500, minTokens: 10 });
  fit = inner.train;
  return { fit, validation: inner.test };
}

export interface Labelled {
  ids: number[][];
  labels: number[];
}

function accuracy(parts: SentimentParts, data: Labelled): number {
  let ok = 0;
  data.ids.forEach((ids, i) => (ok += argmax(sentimentLogits(parts, ids)) === data.labels[i] ? 1 : 0));
  return ok / (data.ids.length || 1);
}

export interface FitOptions {
  /** Needed only for early stopping. */
  validation?: Labelled;
  log?: (s: string) => void;
  /**
   * Reuse of trained parts across variants (the ablation: an ensemble of 5 shares its first member
   * with the single model of the same seed). `key` names the part; return a cached one or `make()`.
   */
  memo?: <T>(key: string, make: () => T) => T;
}

/** The settings a trained member depends on (the memo key of the ablation). */
function memberKey(v: SentimentVariant, seed: number): string {
  const { preTokenization, features, dim, hidden, epochs, lr, dropout, l2, earlyStopping, rows } = v;
  return JSON.stringify({ preTokenization, features, dim, hidden, epochs, lr, dropout, l2, earlyStopping, rows, seed });
}

/** Trains a variant on encoded rows. */
export function fitSentiment(vocab: readonly string[], train: Labelled, v: SentimentVariant, seed: number, opts: FitOptions = {}): SentimentParts {
  const { validation, log = () => {}, memo = (_key, make) => make() } = opts;
  if (v.earlyStopping && !validation) throw new Error(`${v.name}: early stopping needs a validation split`);
  const features = new FeatureSpace(vocab, v.features, v.features.negation ? FeatureSpace.seenNegated(vocab, train.ids) : []);
  let feats: Int32Array[] | undefined;
  const featuresOfTrain = () => (feats ??= train.ids.map((ids) => features.features(ids)));
  const parts: SentimentParts = { features, members: [], linearWeight: v.linearWeight };
  if (v.linearWeight > 0) {
    parts.linear = memo(`nb-logistic ${JSON.stringify({ preTokenization: v.preTokenization, features: v.features, rows: v.rows, earlyStopping: v.earlyStopping, seed })}`, () =>
      trainNbLogistic(featuresOfTrain(), train.labels, features.rows, { alpha: 1, epochs: 5, lr: 0.1, l2: 1e-5, seed }),
    );
  }
  if (v.cnn) {
    const c = v.cnn;
    // The CNN reads the ids alone, so it depends on the vocabulary (lexicon words added), the rows and the seed, not on the bag features.
    // Storage is applied at export, so rows that differ only in it share the trained CNN.
    const { storage, ...trained } = c;
    parts.cnn = memo(`cnn ${JSON.stringify({ preTokenization: v.preTokenization, lexicons: lexiconsOf(v.features), rows: v.rows, earlyStopping: v.earlyStopping, cnn: trained, seed })}`, () => {
      let pretrained: PretrainedEmbedding | undefined;
      if (c.vectors) {
        const { table, dim, found } = vocabularyVectors(vocab, loadWordVectors());
        log(`    cnn: pretrained vectors for ${found.reduce((a, b) => a + b, 0)} of ${vocab.length} vocabulary words (${c.vectors})`);
        pretrained = { vectors: table, width: dim, found, mode: c.vectors };
      }
      const cnn = new TextCnn({ vocabSize: vocab.length, dim: c.dim, widths: c.widths, filters: c.filters }, seed, pretrained);
      cnn.train(train.ids, train.labels, { epochs: c.epochs, lr: c.lr, batchSize: c.batchSize, dropout: c.dropout, seed, onEpoch: (e, loss) => log(`    cnn epoch ${e}: loss ${loss.toFixed(4)}`) });
      return cnn;
    });
    parts.cnnWeight = v.cnnWeight ?? 1;
    if (storage) parts.cnnStorage = storage;
  }
  for (let k = 0; k < v.members; k++) parts.members.push(memo(`member ${memberKey(v, seed + k)}`, () => fitMember(features, featuresOfTrain(), train.labels, v, seed + k, k, validation, log)));
  return parts;
}

function fitMember(features: FeatureSpace, feats: Int32Array[], labels: number[], v: SentimentVariant, seed: number, k: number, validation: Labelled | undefined, log: (s: string) => void): TextClassifier {
  const member = new TextClassifier({ vocabSize: features.rows, numClasses: 2, dim: v.dim, ngrams: 1, buckets: 0, hidden: v.hidden }, seed);
  let best = { accuracy: -1, epoch: 0, weights: [] as Float32Array[] };
  const arrays = [member.emb, member.w1, member.b1, member.w2, member.b2];
  member.train(feats, labels, {
    epochs: v.epochs,
    lr: v.lr,
    dropout: v.dropout,
    l2: v.l2,
    seed,
    onEpoch: (epoch, loss) => {
      if (!v.earlyStopping) return;
      const acc = accuracy({ features, members: [member], linearWeight: 0 }, validation!);
      log(`    member ${k + 1} epoch ${epoch}: loss ${loss.toFixed(4)}, validation accuracy ${acc.toFixed(4)}`);
      if (acc > best.accuracy) best = { accuracy: acc, epoch, weights: arrays.map((a) => a.slice()) };
    },
  });
  if (v.earlyStopping) {
    arrays.forEach((a, i) => a.set(best.weights[i]!));
    log(`    member ${k + 1}: kept epoch ${best.epoch}`);
  }
  return member;
}
