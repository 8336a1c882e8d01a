import { readFileSync } from 'node:fs';
import path from 'node:path';
import { AutoTokenizer } from '@huggingface/transformers';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadTokenizer } from '../../src/tasks/tokenizer.js';
import { asciiWordPiece, type AsciiWordPiece } from '../../src/tasks/wordpiece-ascii.js';
import { REPO_ROOT } from '../helpers/server.js';
import { requireShared, sharedPath } from '../helpers/shared.js';

const SST2 = 'data/sst2/train.tsv';
const DISTILBERT = 'models/distilbert-arch-random';

const tokenizerJson = (dir: string) => JSON.parse(readFileSync(path.join(dir, 'tokenizer.json'), 'utf8'));

/** Every SST-2 sentence when ../shared is there, else a few of its kind. */
function sentences(): string[] {
  if (!requireShared(SST2, 'WordPiece fast path on every SST-2 sentence')) {
    return ['a gorgeous , witty , seductive movie .', "it 's not the worst film of the year", 'Unflinchingly bleak and desperate'];
  }
  return readFileSync(sharedPath(SST2), 'utf8')
    .split('\n')
    .slice(1)
    .map((line) => line.split('\t')[0]!)
    .filter((text) => text.length > 0);
}

// Seeded, so a failure can be replayed: words, cased words, digits, punctuation, whitespace,
// control characters, special-token text, subword prefixes and over-long words.
let seed = 4242;
const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
const pick = <T,>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
const PARTS = ['movie', 'MOVIE', 'Movie', 'un', 'believ', 'ably', "'s", "n't", "N'T", "can't", "don't", "n'", "'t", 'isn', "nn't", "n''t", '##ing', '2/10', '1999', '...', ' ', '  ', '\t', '\n', '\r\n', '\u0001', '\u007f', '[CLS]', '[cls]', '[MASK]', '[', ']', '-', '_', '~', '`', '@', 'x'.repeat(101), 'supercalifragilisticexpialidocious', 'café', 'naïve', '“quoted”', '日本'];
const CHARS = Array.from({ length: 128 }, (_, c) => String.fromCharCode(c));
function randomText(): string {
  let text = '';
  for (let n = 1 + Math.floor(random() * 12); n > 0; n--) text += random() < 0.7 ? pick(PARTS) : pick(CHARS);
  return text;
}

/** Texts the fast path takes and answers differently from transformers.js (the first few), and how many it took. */
function mismatches(texts: Iterable<string>, fast: AsciiWordPiece, general: (text: string) => number[]): { taken: number; wrong: string[] } {
  let taken = 0;
  const wrong: string[] = [];
  for (const text of texts) {
    const ids = fast.encode(text);
    if (ids === undefined) continue;
    taken++;
    const expected = general(text);
    if (wrong.length < 5 && (ids.length !== expected.length || ids.some((id, i) => id !== expected[i]))) {
      wrong.push(`${JSON.stringify(text)}: ${JSON.stringify(ids)} vs ${JSON.stringify(expected)}`);
    }
  }
  return { taken, wrong };
}

function compare(dir: string) {
  let fast: AsciiWordPiece;
  let general: (text: string) => number[];
  beforeAll(async () => {
    fast = asciiWordPiece(tokenizerJson(dir))!;
    const tokenizer = await AutoTokenizer.from_pretrained(dir, { local_files_only: true });
    general = (text) => tokenizer.encode(text);
  });

  it('applies to this tokenizer.json', () => {
    expect(fast).toBeDefined();
  });

  it('gives the ids transformers.js gives for every sentence it takes, and takes nearly all of them', () => {
    const texts = sentences();
    const { taken, wrong } = mismatches(texts, fast, general);
    expect(wrong).toEqual([]);
    expect(taken / texts.length).toBeGreaterThan(0.99);
  });

  it('gives the same ids on random ASCII text, and leaves the rest to transformers.js', () => {
    const { taken, wrong } = mismatches(Array.from({ length: 20_000 }, randomText), fast, general);
    expect(wrong).toEqual([]);
    expect(taken).toBeGreaterThan(1000);
  });
}

describe('ASCII WordPiece fast path: the spam model (BERT pre-tokenizer)', () => compare(path.join(REPO_ROOT, 'models', 'spam', '1')));
describe("ASCII WordPiece fast path: the sentiment model (whitespace split, then n't and punctuation isolated)", () =>
  compare(path.join(REPO_ROOT, 'models', 'sentiment', '1')),
);
describe.runIf(requireShared(DISTILBERT, 'WordPiece fast path with the DistilBERT vocabulary'))('ASCII WordPiece fast path: DistilBERT (real subwords)', () =>
  compare(sharedPath(DISTILBERT)),
);

describe('ASCII WordPiece fast path: what it leaves alone', () => {
  const json = tokenizerJson(path.join(REPO_ROOT, 'models', 'spam', '1'));

  it.each([
    ['non-ASCII text', 'a café movie'],
    ['a control character, which joins its neighbours', 'good\u0001bad'],
    ["an added token's text, which is a special token", 'the [MASK] movie'],
  ])('%s', (_, text) => {
    expect(asciiWordPiece(json)!.encode(text)).toBeUndefined();
  });

  it.each([
    ['another normalizer', { ...json, normalizer: { type: 'NFC' } }],
    ['another pre-tokenizer', { ...json, pre_tokenizer: { type: 'Whitespace' } }],
    ['another model', { ...json, model: { ...json.model, type: 'BPE' } }],
    ['a pair template as the single one', { ...json, post_processor: { ...json.post_processor, single: json.post_processor.pair } }],
    ['added tokens matched after normalization', { ...json, added_tokens: [...json.added_tokens, { id: 9, content: 'zz', normalized: true }] }],
  ])('a tokenizer with %s', (_, changed) => {
    expect(asciiWordPiece(changed)).toBeUndefined();
  });

  const sentiment = tokenizerJson(path.join(REPO_ROOT, 'models', 'sentiment', '1'));
  const [whitespace, split] = sentiment.pre_tokenizer.pretokenizers;
  const withSplit = (changes: Record<string, unknown>) => ({ ...sentiment, pre_tokenizer: { ...sentiment.pre_tokenizer, pretokenizers: [whitespace, { ...split, ...changes }] } });
  it.each([
    ['a split regex with a look-ahead', withSplit({ pattern: { Regex: "n(?=')|[\\p{P}]" } })],
    ['a split regex with a quantifier', withSplit({ pattern: { Regex: "n't+|[\\p{P}]" } })],
    ['a split that keeps matches with their neighbours', withSplit({ behavior: 'MergedWithPrevious' })],
    ['an inverted split', withSplit({ invert: true })],
    ['a split without the whitespace split first', { ...sentiment, pre_tokenizer: { ...sentiment.pre_tokenizer, pretokenizers: [split] } }],
    ['a Replace of an ASCII string before the BERT normalizer', { ...sentiment, normalizer: { ...sentiment.normalizer, normalizers: [{ type: 'Replace', pattern: { String: "'" }, content: ' ' }, sentiment.normalizer.normalizers.at(-1)] } }],
  ])('the sentiment tokenizer with %s', (_, changed) => {
    expect(asciiWordPiece(changed)).toBeUndefined();
  });

  it("keeps n't whole as the sentiment tokenizer does, in any case", () => {
    const fast = asciiWordPiece(sentiment)!;
    const id = (token: string) => sentiment.model.vocab[token] as number;
    expect(fast.encode("Can't")).toEqual([id('[CLS]'), id('ca'), id("n't"), id('[SEP]')]);
    expect(fast.encode("DON'T")).toEqual([id('[CLS]'), id('do'), id("n't"), id('[SEP]')]);
  });

  it('the loaded tokenizer answers the same with and without it, truncation included', async () => {
    const dir = path.join(REPO_ROOT, 'models', 'spam', '1');
    const tokenizer = await loadTokenizer(dir);
    const general = await AutoTokenizer.from_pretrained(dir, { local_files_only: true });
    const long = Array.from({ length: 200 }, (_, i) => `word${i}`).join(' ');
    for (const text of ['fine', 'a café movie', long]) {
      const ids = general.encode(text);
      const expected = ids.length <= 128 ? ids : [...ids.slice(0, 127), ids.at(-1)];
      expect(tokenizer.encode(text, 128)).toEqual({ ids: expected, truncated: ids.length > 128 });
    }
  });
});
