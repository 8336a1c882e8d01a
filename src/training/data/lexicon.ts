import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';

/**
 * The VADER sentiment lexicon (Hutto & Gilbert 2014): about 7,500 English words, emoticons and
 * slang, each rated by ten people from -4 (extremely negative) to +4 (extremely positive). It is
 * read from the npm package `vader-sentiment` (a JavaScript port of VADER, Apache-2.0; the
 * lexicon itself is MIT-licensed in VADER's own repository), file `vader_lexicon.txt`:
 * `token<TAB>mean rating<TAB>standard deviation<TAB>[ten ratings]`.
 *
 * The sentiment model uses it for words its training rows never show: a word's rounded mean
 * rating is a feature of the word, shared by every word with that rating (src/training/sentiment-features.ts).
 */
export const LEXICON_PACKAGE = 'vader-sentiment';
export const LEXICON_LICENCE = 'lexicon MIT (VADER, Hutto & Gilbert 2014); npm package vader-sentiment Apache-2.0';

const require = createRequire(import.meta.url);

export function lexiconVersion(): string {
  return (require(`${LEXICON_PACKAGE}/package.json`) as { version: string }).version;
}

export function lexiconFile(): string {
  return resolve(dirname(require.resolve(`${LEXICON_PACKAGE}/package.json`)), 'vader_lexicon.txt');
}

/** Plain lower-case words (no emoticons, no multi-word or punctuated entries) and their mean rating. */
export function loadLexicon(file = lexiconFile()): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const [token, mean] = line.split('\t');
    if (!token || mean === undefined || !/^[a-z]+$/.test(token)) continue;
    const v = Number(mean);
    if (Number.isFinite(v) && v !== 0) out.set(token, v);
  }
  return out;
}

/** The feature class of a rating: its rounded value, -4..4 without 0 (index 0..7). */
export function ratingClass(v: number): number | undefined {
  const r = Math.max(-4, Math.min(4, Math.round(v)));
  if (r === 0) return undefined;
  return r < 0 ? r + 4 : r + 3;
}
export const RATING_CLASSES = 8;
