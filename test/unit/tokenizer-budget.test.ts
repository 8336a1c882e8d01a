import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadTokenizer } from '../../src/tasks/tokenizer.js';
import { REPO_ROOT } from '../helpers/server.js';
import { hasShared, sharedPath } from '../helpers/shared.js';

/**
 * A long text is cut before it is tokenized (src/tasks/tokenizer.ts, encodeWithinBudget): the
 * ids must be exactly those of tokenizing the whole text and cutting the ids, and the work must
 * not grow with the text.
 */
const folders = [path.join(REPO_ROOT, 'models/sentiment/1'), path.join(REPO_ROOT, 'models/spam/1')];
if (hasShared) folders.push(sharedPath('models/distilbert-arch-random'));

const WORDS = ['the', 'film', "isn't", 'good', ',', 'wonderful', 'naïve', 'café', '東京', '😀', 'un-re-watchable', 'x'.repeat(150), '...', 'Subject:', 'WIN', '$$$'];

/** The reference: everything tokenized, then cut (keeping the closing special token). */
async function reference(dir: string) {
  const { Tokenizer } = await import('@huggingface/tokenizers');
  const { readFileSync } = await import('node:fs');
  const json = JSON.parse(readFileSync(path.join(dir, 'tokenizer.json'), 'utf8'));
  const config = JSON.parse(readFileSync(path.join(dir, 'tokenizer_config.json'), 'utf8'));
  const tokenizer = new Tokenizer(json, config);
  return (text: string, maxLength: number) => {
    const ids = tokenizer.encode(text).ids;
    if (ids.length <= maxLength) return { ids, truncated: false };
    return { ids: [...ids.slice(0, maxLength - 1), ids[ids.length - 1]!], truncated: true };
  };
}

describe('text cut to the model before tokenization', () => {
  for (const dir of folders) {
    it(`${path.basename(path.dirname(dir))}/${path.basename(dir)}: same ids as tokenizing everything, on long texts of words and spaces`, async () => {
      const tokenizer = await loadTokenizer(dir);
      const whole = await reference(dir);
      const maxLength = tokenizer.modelMaxLength;
      fc.assert(
        fc.property(
          fc.array(fc.tuple(fc.constantFrom(...WORDS), fc.constantFrom(' ', '  ', '\n', '\t', ' \u3000 ')), { minLength: 1, maxLength: 3000 }),
          (pieces) => {
            const text = pieces.map(([w, s]) => w + s).join('');
            expect(tokenizer.encode(text, maxLength)).toEqual(whole(text, maxLength));
          },
        ),
        { numRuns: 40 },
      );
    });
  }

  it('a 1 MB text is cut, whatever it holds: words, one endless word, spaces only between long words', async () => {
    const tokenizer = await loadTokenizer(folders[0]!);
    const whole = await reference(folders[0]!);
    const english = 'a gorgeous , witty , seductive movie . '.repeat(30_000).slice(0, 1_000_000);
    expect(tokenizer.encode(english, 128)).toEqual(whole(english, 128));
    for (const junk of ['a'.repeat(1_000_000), `${'b'.repeat(300)} `.repeat(3400)]) {
      const encoded = tokenizer.encode(junk, 128);
      expect(encoded.truncated).toBe(true);
      expect(encoded.ids.length).toBeLessThanOrEqual(128);
    }
  });
});
