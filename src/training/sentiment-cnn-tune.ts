import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { sharedDir } from './artifacts.js';
import { loadSst2, splitSst2 } from './data/sst2.js';
import { argmax } from './metrics.js';
import { buildSentimentTokenizer, fitSentiment, lexiconsOf, trainingSelection, type CnnSettings, type Labelled, type SentimentVariant } from './sentiment-fit.js';
import { sentimentLogits } from './sentiment-model.js';
import { MAX_LENGTH, splitOptions } from './sentiment.js';
import { CHOSEN, TEXT_CNN } from './sentiment-variants.js';

/**
 * Picks the text CNN's settings on a split none of the ablation's numbers use: one more leak-free
 * validation split of the training rows (seed 48; the CV folds are seeds 43..47 and the held-out
 * split is seed 42's). For each CNN setting given (JSON after --cnn, merged over TEXT_CNN, one per
 * `;`) it prints the CNN's accuracy alone and added to the exported row's logits at a few weights.
 * The exported row is fitted once per run.
 *
 *   node dist/training/sentiment-cnn-tune.js --cnn '{"vectors":"static","dim":32};{"vectors":"fine-tuned"}'
 */
async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      cnn: { type: 'string', default: '{}' },
      weights: { type: 'string', default: '0.25,0.5,1,2' },
      seed: { type: 'string', default: '48' },
    },
  });
  const log = (s: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${s}`);
  const seed = 42;
  const outer = splitSst2(loadSst2(resolve(sharedDir, 'data', 'sst2', 'train.tsv')), splitOptions(seed));
  const split = splitSst2(outer.train, splitOptions(Number(values.seed)));
  const work = mkdtempSync(resolve(tmpdir(), 'vigil-cnn-tune-'));
  const base: SentimentVariant = CHOSEN;
  const { tok, vocab } = await buildSentimentTokenizer(work, split.train.map((r) => r.text), base.preTokenization, MAX_LENGTH, lexiconsOf(base.features));
  rmSync(work, { recursive: true, force: true });
  const encode = (rows: typeof split.train): Labelled => ({ ids: rows.map((r) => tok.encode(r.text)), labels: rows.map((r) => r.label) });
  const train = encode(trainingSelection(split.train, base, seed).fit);
  const test = encode(split.test);
  const accuracy = (logits: Float32Array[]) => logits.filter((l, i) => argmax(l) === test.labels[i]).length / logits.length;

  const exported = fitSentiment(vocab, train, base, seed, { log });
  const baseLogits = test.ids.map((ids) => sentimentLogits(exported, ids));
  log(`seed-${values.seed} split: ${train.ids.length} training rows, ${test.ids.length} validation sentences; exported row alone ${accuracy(baseLogits).toFixed(4)}`);
  const weights = values.weights.split(',').map(Number);
  for (const text of values.cnn.split(';')) {
    const cnn: CnnSettings = { ...TEXT_CNN, ...(JSON.parse(text) as Partial<CnnSettings>) };
    const t0 = performance.now();
    const parts = fitSentiment(vocab, train, { ...base, members: 0, linearWeight: 0, cnn, cnnWeight: 1 }, seed, { log });
    const cnnLogits = test.ids.map((ids) => parts.cnn!.forward(ids));
    const added = weights.map((w) => accuracy(baseLogits.map((b, i) => Float32Array.from([b[0]! + w * cnnLogits[i]![0]!, b[1]! + w * cnnLogits[i]![1]!]))));
    log(`${JSON.stringify(cnn)}: fit ${((performance.now() - t0) / 1000).toFixed(0)} s; alone ${accuracy(cnnLogits).toFixed(4)}; added at ${weights.map((w, i) => `${w}: ${added[i]!.toFixed(4)}`).join(', ')}`);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
