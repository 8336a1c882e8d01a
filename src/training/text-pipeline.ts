import { TextClassifier, type TextModelConfig, type TrainOptions } from './text-classifier.js';
import { buildVocab, loadTokenizer, writeTokenizer, UNK_ID, CLS_ID, SEP_ID, PAD_ID, type TextTokenizer, type VocabOptions } from './tokenizer.js';

/** One named configuration of the text classifier, as compared in a trainer's sweep. */
export interface TextVariant {
  name: string;
  dim: number;
  ngrams: number;
  buckets: number;
  hidden: number;
  epochs: number;
  lr: number;
  dropout: number;
}

import { argmax, classificationMetrics, histogram, predictionReference, round, softmax, type ClassificationMetrics } from './metrics.js';
import type { ModelSpec } from '../models/spec.js';

/** Shared by the text classifiers (sentiment, spam): tokenizer -> ids -> fastText-style model. */

export async function buildTokenizer(dir: string, texts: string[], vocab: VocabOptions, maxLength: number): Promise<TextTokenizer> {
  writeTokenizer(dir, buildVocab(texts, vocab), maxLength);
  return loadTokenizer(dir, maxLength);
}

export function encodeAll(tok: TextTokenizer, texts: string[]): number[][] {
  return texts.map((t) => tok.encode(t));
}

export function fitTextClassifier(cfg: TextModelConfig, seqs: number[][], labels: number[], opts: TrainOptions): TextClassifier {
  const model = new TextClassifier(cfg, opts.seed);
  model.train(
    seqs.map((s) => model.features(s)),
    labels,
    opts,
  );
  return model;
}

export function evaluateLogits(logits: ArrayLike<number>[], labels: number[], numClasses: number, positive?: number): ClassificationMetrics {
  return classificationMetrics(labels, logits.map(argmax), numClasses, positive);
}

export function tsLogits(model: TextClassifier, seqs: number[][]): Float32Array[] {
  return seqs.map((s) => model.forward(s));
}

/** Tokens that are not special ([CLS]/[SEP]/[PAD]). */
function wordTokens(seq: number[]): number[] {
  return seq.filter((id) => id !== CLS_ID && id !== SEP_ID && id !== PAD_ID);
}

export const TOKEN_COUNT_EDGES = [0, 5, 10, 15, 20, 30, 40, 60, 90, 128];
export const UNKNOWN_RATE_EDGES = [0, 0.0001, 0.05, 0.1, 0.2, 0.35, 0.5, 1];

/** `reference` section of a text classifier's spec, from the held-out texts and the model's logits. */
export function textReference(seqs: number[][], logits: ArrayLike<number>[], labels: string[], source: string): Record<string, unknown> {
  const counts = seqs.map((s) => wordTokens(s).length);
  const unkRates = seqs.map((s) => {
    const w = wordTokens(s);
    return w.length ? w.filter((id) => id === UNK_ID).length / w.length : 0;
  });
  const totalTokens = counts.reduce((a, b) => a + b, 0);
  const totalUnk = seqs.reduce((a, s) => a + s.filter((id) => id === UNK_ID).length, 0);
  return {
    source,
    n: seqs.length,
    features: {
      tokenCount: { description: 'word tokens per text after tokenization and truncation, excluding [CLS]/[SEP]', ...histogram(counts, TOKEN_COUNT_EDGES) },
      unknownTokenRate: { description: 'fraction of a text\'s word tokens that are [UNK]', ...histogram(unkRates, UNKNOWN_RATE_EDGES) },
    },
    stats: {
      meanTokenCount: round(totalTokens / (seqs.length || 1), 3),
      unknownTokenRate: round(totalUnk / (totalTokens || 1), 5),
    },
    predictions: predictionReference(
      logits.map((l) => softmax(l)),
      labels,
    ),
  };
}

/**
 * The interface of every text classifier Vigil exports: the same as a Hugging Face DistilBERT
 * sequence classifier, so the server treats ours and theirs alike.
 */
export function textClassifierInterface(labels: string[]): Pick<ModelSpec, 'inputs' | 'outputs' | 'labels' | 'onnx'> {
  return {
    inputs: [
      { name: 'input_ids', datatype: 'INT64', shape: [-1, -1] },
      { name: 'attention_mask', datatype: 'INT64', shape: [-1, -1] },
    ],
    outputs: [{ name: 'logits', datatype: 'FP32', shape: [-1, labels.length] }],
    labels,
    onnx: { file: 'model.onnx' },
  };
}
