import { readFileSync } from 'node:fs';
import { Rng } from '../rng.js';

export interface LabelledText {
  text: string;
  label: number;
}

/** Reads GLUE SST-2 `train.tsv` (header `sentence<TAB>label`). Texts are trimmed. */
export function loadSst2(file: string): LabelledText[] {
  const lines = readFileSync(file, 'utf8').split('\n');
  if (!lines[0]?.startsWith('sentence\tlabel')) throw new Error(`${file}: expected header "sentence<TAB>label"`);
  const rows: LabelledText[] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (!line) continue;
    const tab = line.lastIndexOf('\t');
    const label = Number(line.slice(tab + 1));
    if (tab < 0 || (label !== 0 && label !== 1)) throw new Error(`${file}:${i + 1}: bad row`);
    rows.push({ text: line.slice(0, tab).trim(), label });
  }
  return rows;
}

export interface SplitOptions {
  seed: number;
  /** How many held-out sentences. */
  testSize: number;
  /** Held-out rows are drawn among rows with at least this many (whitespace-separated PTB) tokens. */
  minTokens: number;
}

export interface Sst2Split {
  train: LabelledText[];
  test: LabelledText[];
  /** Training rows removed because they overlap a held-out sentence. */
  dropped: number;
  description: string;
}

const spanKey = (toks: string[], a: number, b: number) => toks.slice(a, b).join(' ');

/**
 * Leak-free held-out split of SST-2's phrase rows. SST-2 holds every phrase of each parsed
 * sentence, so a random row split puts sub-phrases of test sentences in training. Instead:
 *  1. draw `testSize` rows with >= `minTokens` tokens (seeded shuffle) as the test set;
 *  2. drop from training every row whose token sequence is a contiguous token span of a test
 *     sentence (it may be one of that sentence's phrases), and every row that contains a test
 *     sentence as a contiguous token span (the test sentence may be one of its phrases).
 * Spans are whole-token (the text is PTB-tokenised and space-separated), not raw characters.
 */
export function splitSst2(rows: LabelledText[], opts: SplitOptions): Sst2Split {
  const rng = new Rng(opts.seed);
  const toks = rows.map((r) => r.text.split(' ').filter(Boolean));
  const candidates = rows.map((_, i) => i).filter((i) => toks[i]!.length >= opts.minTokens);
  rng.shuffle(candidates);
  const testIdx = new Set(candidates.slice(0, opts.testSize));
  const testSpans = new Set<string>();
  const testTexts = new Set<string>();
  for (const i of testIdx) {
    const t = toks[i]!;
    testTexts.add(t.join(' '));
    for (let a = 0; a < t.length; a++) for (let b = a + 1; b <= t.length; b++) testSpans.add(spanKey(t, a, b));
  }
  const train: LabelledText[] = [];
  let dropped = 0;
  rows.forEach((r, i) => {
    if (testIdx.has(i)) return;
    const t = toks[i]!;
    let leak = testSpans.has(t.join(' '));
    for (let a = 0; !leak && a + opts.minTokens <= t.length; a++) {
      for (let b = a + opts.minTokens; b <= t.length; b++) {
        if (testTexts.has(spanKey(t, a, b))) {
          leak = true;
          break;
        }
      }
    }
    if (leak) dropped++;
    else train.push(r);
  });
  const test = [...testIdx].sort((a, b) => a - b).map((i) => rows[i]!);
  return {
    train,
    test,
    dropped,
    description:
      `seeded (seed ${opts.seed}) sample of ${test.length} rows with >= ${opts.minTokens} tokens as held-out sentences; ` +
      `dropped from training the ${dropped} rows that are a contiguous token span of a held-out sentence or contain one; ` +
      `${train.length} training rows remain`,
  };
}

/**
 * The rows that are not a contiguous token span of a longer row: SST-2's full sentences (and the
 * few phrases whose sentence had a neutral label and was left out). Used to measure training on
 * sentences only instead of on every phrase.
 */
export function sentenceRows(rows: LabelledText[]): LabelledText[] {
  const order = rows.map((_, i) => i).sort((a, b) => rows[b]!.text.length - rows[a]!.text.length || a - b);
  const spans = new Set<string>();
  const keep = new Set<number>();
  for (const i of order) {
    const t = rows[i]!.text.split(' ').filter(Boolean);
    if (spans.has(t.join(' '))) continue;
    keep.add(i);
    for (let a = 0; a < t.length; a++) for (let b = a + 1; b <= t.length; b++) spans.add(spanKey(t, a, b));
  }
  return rows.filter((_, i) => keep.has(i));
}
