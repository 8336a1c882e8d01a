import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { AutoTokenizer, env } from '@huggingface/transformers';
import { afterAll, describe, expect, it } from 'vitest';
import { splitSst2, type LabelledText } from '../../src/training/data/sst2.js';
import { parseMessage, stratifiedSplit } from '../../src/training/data/spam.js';
import { binOf, classificationMetrics, histogram, psi, quantileEdges, regressionMetrics } from '../../src/training/metrics.js';
import { buildVocab, loadTokenizer, preTokenize, PAD_ID, UNK_ID, CLS_ID, SEP_ID, writeTokenizer } from '../../src/training/tokenizer.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('Vigil tokenizer files', () => {
  const texts = ["it 's a charming , funny movie", 'Boring and predictable!', 'does n\'t work -lrb- really -rrb-'];

  it('load with AutoTokenizer.from_pretrained and give the ids the trainer uses', async () => {
    const root = mkdtempSync(path.join(tmpdir(), 'vigil-tok-'));
    dirs.push(root);
    const vocab = buildVocab(texts, { minCount: 1, maxSize: 100 });
    writeTokenizer(path.join(root, 'tok'), vocab, 16);
    // Load exactly as the server does.
    env.allowRemoteModels = false;
    env.localModelPath = root + '/';
    const hf = await AutoTokenizer.from_pretrained('tok');
    const mine = await loadTokenizer(path.join(root, 'tok'), 16);
    expect(mine.vocabSize).toBe(vocab.length);
    for (const t of [...texts, 'An UNSEEN word: charming.', 'x '.repeat(40)]) {
      const ids = (hf(t, { truncation: true, max_length: 16, return_tensor: false }) as { input_ids: number[] }).input_ids;
      expect(mine.encode(t)).toEqual(ids);
      expect(ids[0]).toBe(CLS_ID);
      // transformers.js truncates after adding the special tokens, so a cut text ends without [SEP].
      if (ids.length < 16) expect(ids.at(-1)).toBe(SEP_ID);
      expect(ids.length).toBeLessThanOrEqual(16);
    }
    // Every word of the training texts is in the vocabulary (the trainer's pre-tokenizer agrees with BERT's).
    for (const t of texts) expect(mine.encode(t)).not.toContain(UNK_ID);
    expect(mine.encode('zebra charming')).toEqual([CLS_ID, UNK_ID, vocab.indexOf('charming'), SEP_ID]);
    // Padding id 0 is [PAD], as the exported graphs assume.
    const batch = hf(['funny', 'boring and predictable'], { padding: true });
    expect(Number((batch.input_ids.data as BigInt64Array)[3])).toBe(PAD_ID);
    expect(vocab[PAD_ID]).toBe('[PAD]');
  });

  it('negation pre-tokeniser: keeps n\'t whole, splits punctuation, and the trainer\'s mirror agrees with transformers.js', async () => {
    const root = mkdtempSync(path.join(tmpdir(), 'vigil-tok-'));
    dirs.push(root);
    const samples = [
      "It isn't GOOD, it's not \u201cbad\u201d either \u2014 can't/won't stop!",
      "is n't it -lrb- great -rrb- ? 10$ e-mail",
      'Don\u2019t do it... na\u00efve caf\u00e9 ok',
    ];
    const vocab = buildVocab(samples, { minCount: 1, maxSize: 1000, preTokenization: 'negation' });
    writeTokenizer(path.join(root, 'neg'), vocab, 64, 'negation');
    const tok = await loadTokenizer(path.join(root, 'neg'), 64);
    for (const s of samples) expect(tok.encode(s).slice(1, -1).map((i) => vocab[i])).toEqual(preTokenize(s, 'negation'));
    expect(preTokenize("isn't it? Don\u2019t", 'negation')).toEqual(['is', "n't", 'it', '?', 'do', "n't"]);
    // The default (BERT) pre-tokeniser cuts the apostrophe off, as before.
    expect(preTokenize("isn't")).toEqual(['isn', "'", 't']);
  });

  it('builds a deterministic vocabulary, most frequent first', () => {
    const v = buildVocab(['b a a', 'c b a'], { minCount: 2, maxSize: 100 });
    expect(v.slice(5)).toEqual(['a', 'b']);
    expect(buildVocab(['b a a', 'c b a'], { minCount: 1, maxSize: 6 })).toHaveLength(6);
  });
});

describe('SST-2 leak-free split', () => {
  const rows: LabelledText[] = [
    { text: 'a b c d e f', label: 1 },
    { text: 'b c d', label: 1 },
    { text: 'c d', label: 0 },
    { text: 'x a b c d e f y', label: 1 },
    { text: 'g h i j k l', label: 0 },
    { text: 'h i', label: 0 },
    { text: 'b c', label: 1 },
    { text: 'bc', label: 1 },
  ];
  it('drops every training row that is a span of a test sentence or contains one', () => {
    const split = splitSst2(rows, { seed: 1, testSize: 1, minTokens: 6 });
    expect(split.test).toHaveLength(1);
    const test = split.test[0]!.text;
    const spans = new Set<string>();
    const t = test.split(' ');
    for (let a = 0; a < t.length; a++) for (let b = a + 1; b <= t.length; b++) spans.add(t.slice(a, b).join(' '));
    for (const r of split.train) {
      expect(spans.has(r.text)).toBe(false);
      expect(` ${r.text} `.includes(` ${test} `)).toBe(false);
    }
    expect(split.train.length + split.dropped + split.test.length).toBe(rows.length);
    // token spans, not characters: "bc" is not a span of anything
    expect(split.train.map((r) => r.text)).toContain('bc');
  });
  it('is reproducible for a seed', () => {
    expect(splitSst2(rows, { seed: 9, testSize: 1, minTokens: 6 })).toEqual(splitSst2(rows, { seed: 9, testSize: 1, minTokens: 6 }));
  });
});

describe('spam message parsing', () => {
  it('keeps subject and body, drops headers, list tags, HTML and quoted-printable', () => {
    const raw = [
      'From someone@example.com  Thu Aug 22 12:36:23 2002',
      'Received: from mail.example.com by x',
      'Subject: [ILUG] Cheap',
      ' pills here',
      'Content-Transfer-Encoding: quoted-printable',
      '',
      '<html><style>p{}</style><p>Buy now &amp; save=',
      ' 50=25</p></html>',
    ].join('\r\n');
    const { subject, body } = parseMessage(raw);
    expect(subject).toBe('Cheap pills here');
    expect(body).toBe('Buy now & save 50%');
    expect(body).not.toMatch(/Received|example\.com/);
  });
  it('splits each label with the same proportion', () => {
    const items = Array.from({ length: 100 }, (_, i) => ({ label: i < 80 ? 0 : 1 }));
    const { train, test } = stratifiedSplit(items, 0.25, 1);
    expect(test.filter((i) => i.label === 0)).toHaveLength(20);
    expect(test.filter((i) => i.label === 1)).toHaveLength(5);
    expect(train).toHaveLength(75);
  });
});

describe('metrics and reference histograms', () => {
  it('computes accuracy and positive-label precision/recall/F1', () => {
    const m = classificationMetrics([1, 1, 0, 0, 1], [1, 0, 0, 1, 1], 2, 1);
    expect(m.accuracy).toBeCloseTo(0.6);
    expect(m.precision).toBeCloseTo(2 / 3);
    expect(m.recall).toBeCloseTo(2 / 3);
    expect(m.confusion).toEqual([[1, 1], [1, 2]]);
  });
  it('computes regression errors', () => {
    const r = regressionMetrics([1, 2, 3], [1, 2, 5]);
    expect(r.mae).toBeCloseTo(2 / 3);
    expect(r.rmse).toBeCloseTo(Math.sqrt(4 / 3));
  });
  it('bins with explicit edges, clipping outside values, last bin closed', () => {
    const edges = [0, 1, 2, 3];
    expect([-5, 0, 0.5, 1, 2.9, 3, 99].map((v) => binOf(v, edges))).toEqual([0, 0, 0, 1, 2, 2, 2]);
    const h = histogram([0, 1, 1, 2], edges);
    expect(h.counts).toEqual([1, 2, 1]);
    expect(h.proportions).toEqual([0.25, 0.5, 0.25]);
    expect(psi(h, [1, 2, 1])).toBeCloseTo(0, 6);
    expect(psi(h, [4, 0, 0])).toBeGreaterThan(0.5);
    expect(quantileEdges([1, 1, 1, 2, 3, 4], 4)[0]).toBe(1);
  });
});
