import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { bodySentences, shortTexts, shortTrainingExamples, SMS_LENGTH } from '../../src/training/data/spam-short.js';
import type { Email } from '../../src/training/data/spam.js';
import { linearFeatures, linearLogits, linearTextOnnx, trainLinearText } from '../../src/training/linear-text.js';
import { calibrationMetrics } from '../../src/training/metrics.js';
import { runTextClassifier } from '../../src/training/onnx-run.js';
import { Rng } from '../../src/training/rng.js';
import { chooseVariant } from '../../src/training/spam.js';
import { CLS_ID, SEP_ID, UNK_ID } from '../../src/training/tokenizer.js';

/** The short texts cut from mail, the summed linear model and its graph, calibration, and the variant rule of spam version 2. */

const mail = (over: Partial<Email>): Email => ({ id: 'g/1', group: 'easy-ham-1', label: 0, subject: '', body: '', ...over });

describe('short texts cut from mail', () => {
  it('keeps SMS-length sentences of 3+ words, skipping quotes, attributions and bare URLs', () => {
    const body = [
      'On Mon, 2 Sep 2002, Joe Bloggs wrote:',
      '> quoted text that should not count as the sender\'s own words',
      'http://example.com/some/page',
      'URL: http://example.com/feed',
      'Ok.',
      'I tried the patch on my laptop. It builds fine now! Does it work for you?',
      'x'.repeat(SMS_LENGTH + 1) + ' long line with several words',
    ].join('\n');
    expect(bodySentences(body)).toEqual(['I tried the patch on my laptop.', 'It builds fine now!', 'Does it work for you?']);
  });

  it('held-out short texts are each subject and each body\'s first sentence, with the message\'s label', () => {
    const xs = shortTexts([
      mail({ id: 'spam-1/7', label: 1, subject: 'Lowest rates today', body: 'Dear friend, act now. Apply today for a free quote.' }),
      mail({ subject: '', body: 'short' }),
    ]);
    expect(xs).toEqual([
      { text: 'Lowest rates today', label: 1, kind: 'subject', from: 'spam-1/7' },
      { text: 'Dear friend, act now.', label: 1, kind: 'first sentence', from: 'spam-1/7' },
    ]);
    const extra = shortTrainingExamples([mail({ subject: 'Re: build', body: 'One two three. Four five six. Seven eight nine. Ten eleven twelve.' })], 2);
    expect(extra).toEqual({ texts: ['Re: build', 'One two three.', 'Four five six.'], labels: [0, 0, 0] });
  });
});

describe('summed linear text model', () => {
  it('gives [UNK] no weight, alone or in a bigram', () => {
    const cfg = { vocabSize: 20, bigramBuckets: 7 };
    const f = linearFeatures(cfg, [CLS_ID, 5, UNK_ID, 6, SEP_ID]);
    expect([...f].filter((r) => r < 20)).toEqual([CLS_ID, 5, 6, SEP_ID]);
    expect([...f].filter((r) => r >= 20)).toHaveLength(2); // [CLS] 5 and 6 [SEP]; both pairs with [UNK] dropped
  });

  it('exports a graph that computes the TS scores on padded batches with [UNK]s', async () => {
    const rng = new Rng(3);
    const V = 40;
    const seqs = Array.from({ length: 60 }, () => [CLS_ID, ...Array.from({ length: 1 + rng.int(9) }, () => (rng.next() < 0.15 ? UNK_ID : 5 + rng.int(V - 5))), SEP_ID]);
    const labels = seqs.map((s) => (s.some((id) => id > 25) ? 1 : 0));
    for (const bigramBuckets of [0, 101]) {
      const model = trainLinearText({ vocabSize: V, bigramBuckets }, seqs, labels, { alpha: 1, epochs: 3, lr: 0.1, l2: 1e-4, seed: 1 });
      const s = await ort.InferenceSession.create(linearTextOnnx(model));
      const onnx = await runTextClassifier(s, seqs, 16);
      await s.release();
      seqs.forEach((seq, i) => {
        const ts = linearLogits(model, seq);
        expect(onnx[i]![0]).toBeCloseTo(ts[0]!, 4);
        expect(onnx[i]![1]).toBeCloseTo(ts[1]!, 4);
      });
      // A text of [UNK]s only scores the bias alone.
      const unk = linearLogits(model, [CLS_ID, UNK_ID, UNK_ID, SEP_ID]);
      const cls = linearLogits(model, [CLS_ID, SEP_ID]);
      if (!bigramBuckets) expect(unk[1]! - unk[0]!).toBeCloseTo(cls[1]! - cls[0]!, 5);
    }
  });
});

describe('calibration', () => {
  it('ECE and Brier of hand-computed cases', () => {
    // Bin [0.9,1): mean p 0.9, observed 0.5 -> |0.4| * 2/4; bin [0.1,0.2): mean p 0.1, observed 0 -> 0.1 * 2/4.
    expect(calibrationMetrics([0.9, 0.9, 0.1, 0.1], [1, 0, 0, 0])).toEqual({ ece: 0.25, brier: 0.21 });
    expect(calibrationMetrics([1, 0], [1, 0])).toEqual({ ece: 0, brier: 0 });
  });
});

describe('spam variant choice', () => {
  it('best long-mail accuracy among variants within the short-ham FPR target; lowest FPR when none is', () => {
    const rows = [
      { name: 'a', validationAccuracy: 0.98, validationShortHamFpr: 0.12 },
      { name: 'b', validationAccuracy: 0.975, validationShortHamFpr: 0.05 },
      { name: 'c', validationAccuracy: 0.975, validationShortHamFpr: 0.04 },
      { name: 'd', validationAccuracy: 0.97, validationShortHamFpr: 0.01 },
    ];
    expect(chooseVariant(rows)).toBe('c');
    expect(chooseVariant(rows.map((r) => ({ ...r, validationShortHamFpr: r.validationShortHamFpr + 0.2 })))).toBe('d');
  });
});
