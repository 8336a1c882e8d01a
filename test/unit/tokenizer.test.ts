import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { AutoTokenizer, env } from '@huggingface/transformers';
import { afterAll, describe, expect, it } from 'vitest';
import { loadTokenizer } from '../../src/tasks/tokenizer.js';
import { REPO_ROOT } from '../helpers/server.js';
import { hasShared, sharedPath } from '../helpers/shared.js';

/**
 * The server loads tokenizers with @huggingface/tokenizers instead of transformers.js (whose
 * import also loads onnxruntime-node and sharp). The ids must stay exactly those of
 * transformers.js's AutoTokenizer, which is what the models were trained and exported with.
 */
const folders: { name: string; dir: string }[] = [
  { name: 'sentiment', dir: path.join(REPO_ROOT, 'models/sentiment/1') },
  { name: 'spam', dir: path.join(REPO_ROOT, 'models/spam/1') },
];
if (hasShared) folders.push({ name: 'distilbert-arch-random', dir: sharedPath('models/distilbert-arch-random') });
else console.warn('[skipped] the DistilBERT tokenizer case: ../shared is not present');

const texts = [
  'I am so happy today!',
  "it 's a charming , funny movie -lrb- really -rrb-",
  'An UNSEEN word: zebra-crossing, café, naïve, 東京, 😀.',
  '   leading and trailing spaces   ',
  '',
  'Subject: WIN $$$ now!!! http://example.com/claim?id=42 call +1 555 0100',
  'word '.repeat(600),
];

// The reference reads the folders from disk, as the server did before.
env.allowRemoteModels = false;
env.localModelPath = '';

const scratch: string[] = [];
afterAll(() => scratch.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('loadTokenizer', () => {
  for (const { name, dir } of folders) {
    it(`${name}: the same ids, padding id and maximum length as transformers.js`, async () => {
      const reference = await AutoTokenizer.from_pretrained(dir, { local_files_only: true });
      const mine = await loadTokenizer(dir);
      expect(mine.padId).toBe(reference.pad_token_id);
      expect(mine.modelMaxLength).toBe(Math.min(Number(reference.model_max_length), 512));
      for (const text of texts) {
        const ids = reference.encode(text);
        const encoded = mine.encode(text, mine.modelMaxLength);
        if (ids.length <= mine.modelMaxLength) {
          expect(encoded).toEqual({ ids, truncated: false });
        } else {
          // Cut to the maximum, keeping the closing [SEP].
          expect(encoded.truncated).toBe(true);
          expect(encoded.ids).toEqual([...ids.slice(0, mine.modelMaxLength - 1), ids.at(-1)]);
          expect(encoded.ids.at(-1)).toBe(reference.sep_token_id);
        }
      }
    });
  }

  it('reads special tokens written as AddedToken objects, and pad falls back to eos', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'vigil-tokenizer-'));
    scratch.push(dir);
    cpSync(path.join(REPO_ROOT, 'models/sentiment/1/tokenizer.json'), path.join(dir, 'tokenizer.json'));
    const config = JSON.parse(readFileSync(path.join(REPO_ROOT, 'models/sentiment/1/tokenizer_config.json'), 'utf8')) as Record<string, unknown>;
    delete config.pad_token;
    config.eos_token = { __type: 'AddedToken', content: '[SEP]' };
    config.sep_token = { __type: 'AddedToken', content: '[SEP]' };
    writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify(config));
    const reference = await AutoTokenizer.from_pretrained(dir, { local_files_only: true });
    const mine = await loadTokenizer(dir);
    expect(reference.pad_token_id).toBe(reference.sep_token_id);
    expect(mine.padId).toBe(reference.pad_token_id);
    const long = mine.encode('word '.repeat(200), 8);
    expect(long.ids).toHaveLength(8);
    expect(long.ids.at(-1)).toBe(reference.sep_token_id);
  });

  it('names the missing file when a folder has no tokenizer_config.json', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'vigil-tokenizer-'));
    scratch.push(dir);
    cpSync(path.join(REPO_ROOT, 'models/sentiment/1/tokenizer.json'), path.join(dir, 'tokenizer.json'));
    await expect(loadTokenizer(dir)).rejects.toThrow(/tokenizer_config\.json/);
  });
});
