import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { PACKAGE_ROOT } from '../../config/serve-config.js';

/** SST-2's training phrases, read from ../shared beside the checkout (never committed). */
export const DEFAULT_SST2 = path.resolve(PACKAGE_ROOT, '..', 'shared', 'data', 'sst2', 'train.tsv');

/** Used when no text file is available, so `vigil bench` always runs. */
const FALLBACK = [
  'a gorgeous , witty , seductive movie .',
  'the worst film of the year , a dull and lifeless mess',
  'it is a charming and often affecting journey .',
  'unfunny and tedious , it drags on forever',
  'an utterly delightful experience from start to finish',
  'painfully boring and badly acted',
  'the performances are uniformly excellent',
  'a sloppy , overlong and pointless sequel',
];

export interface TextSet {
  source: string;
  texts: string[];
  /** Words per text: min, median, max (what "short" means here). */
  words: { min: number; median: number; max: number };
}

/**
 * Short sentences for load: SST-2 rows (or one text per line of any file; for .tsv the first
 * column) with `minWords`..`maxWords` words, the first `limit` of them in file order, so every
 * run and every scenario sends the same texts.
 */
export function loadTexts(file: string | undefined, options: { minWords?: number; maxWords?: number; limit?: number } = {}): TextSet {
  const { minWords = 6, maxWords = 24, limit = 512 } = options;
  const source = file ?? DEFAULT_SST2;
  let texts: string[];
  if (existsSync(source)) {
    const lines = readFileSync(source, 'utf8').split('\n');
    const tsv = source.endsWith('.tsv');
    texts = lines
      .slice(tsv ? 1 : 0)
      .map((line) => (tsv ? line.split('\t')[0]! : line).trim())
      .filter((t) => {
        const n = t.split(/\s+/).length;
        return t !== '' && n >= minWords && n <= maxWords;
      })
      .slice(0, limit);
  } else if (file !== undefined) {
    throw new Error(`text file ${file} does not exist`);
  } else {
    texts = [];
  }
  const from = texts.length > 0 ? source : 'built-in sentences';
  if (texts.length === 0) texts = FALLBACK;
  const counts = texts.map((t) => t.split(/\s+/).length).sort((a, b) => a - b);
  return { source: from, texts, words: { min: counts[0]!, median: counts[Math.floor(counts.length / 2)]!, max: counts.at(-1)! } };
}
