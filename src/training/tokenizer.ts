import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';

/**
 * Vigil's own word-level tokenizers, written as Hugging Face `tokenizer.json` files: a BERT
 * normaliser (lower-case, clean text), the BERT pre-tokeniser (whitespace + punctuation), and a
 * WordPiece model whose vocabulary holds whole words only, so a word not in the vocabulary is
 * `[UNK]`. `[CLS] text [SEP]` like BERT. WordPiece (rather than WordLevel) because
 * transformers.js implements WordPiece; the Python `tokenizers` library reads it too.
 *
 * Training tokenizes THROUGH the written files with `@huggingface/transformers`, exactly as the
 * server does, so training and serving see the same ids.
 */

export const SPECIAL_TOKENS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'] as const;
export const PAD_ID = 0;
export const UNK_ID = 1;
export const CLS_ID = 2;
export const SEP_ID = 3;

/**
 * How text is cut into words before the vocabulary lookup:
 * - `bert`: BERT's pre-tokeniser (whitespace, then every punctuation character alone), so "isn't"
 *   and SST's PTB-style "is n't" both become `is n ' t`;
 * - `negation`: the same, except that `n't` stays one word ("isn't" -> `is n't`, "can't" -> `ca n't`,
 *   as PTB tokenises), and typographic apostrophes count as `'`. A model can then see negation as
 *   one token, which the sentiment graph's negation scope needs (src/training/negation.ts).
 */
export type PreTokenization = 'bert' | 'negation';

/**
 * The `negation` pre-tokeniser's split pattern, as written into tokenizer.json: `n't`, or one
 * character of BERT's punctuation class (Unicode P plus the ASCII symbols). Oniguruma (HF
 * tokenizers) and JavaScript read it alike.
 */
export const NEGATION_SPLIT_PATTERN = "n't|[\\p{P}\\x21-\\x2F\\x3A-\\x40\\x5B-\\x60\\x7B-\\x7E]";
// The `bert` mirror keeps the class it always used (the spam vocabulary was counted with it).
const BERT_SPLIT_RE = /([\p{P}\p{S}])/u;
const NEGATION_SPLIT_RE = new RegExp(`(${NEGATION_SPLIT_PATTERN})`, 'u');

/**
 * Mirror of the tokenizer's normaliser (BertNormalizer: lower-case, clean text, no accent
 * stripping) and pre-tokeniser, used only to COUNT words when building the vocabulary. Ids always
 * come from the real tokenizer; a unit test checks that the two agree.
 */
export function preTokenize(text: string, style: PreTokenization = 'bert'): string[] {
  // clean_text: drop control characters, map whitespace to ' '. (Chinese-char padding is irrelevant here.)
  let cleaned = text.replace(/[\u0000\ufffd]|[\p{Cc}\p{Cf}]/gu, (c) => (/\s/.test(c) ? ' ' : '')).toLowerCase();
  // BertNormalizer strips accents when it lower-cases and strip_accents is null ("naïve" -> "naive").
  // The `bert` mirror never did, so it counted accented words the tokenizer cannot match; it is left
  // as it was so that the committed spam vocabulary stays reproducible.
  if (style === 'negation') cleaned = cleaned.replaceAll('\u2019', "'").normalize('NFD').replace(/\p{Mn}/gu, '');
  const split = style === 'negation' ? NEGATION_SPLIT_RE : BERT_SPLIT_RE;
  const out: string[] = [];
  for (const piece of cleaned.split(/\s+/u)) {
    if (!piece) continue;
    for (const t of piece.split(split)) if (t) out.push(t);
  }
  return out;
}

export interface VocabOptions {
  /** Keep words seen at least this many times. */
  minCount: number;
  /** At most this many words (most frequent first, ties broken alphabetically). */
  maxSize: number;
  /** Pre-tokeniser (default `bert`). */
  preTokenization?: PreTokenization;
}

/** Builds a deterministic vocabulary from texts: special tokens first, then words by frequency. */
export function buildVocab(texts: Iterable<string>, opts: VocabOptions): string[] {
  const counts = new Map<string, number>();
  for (const t of texts) for (const w of preTokenize(t, opts.preTokenization)) counts.set(w, (counts.get(w) ?? 0) + 1);
  const words = [...counts.entries()]
    .filter(([w, c]) => c >= opts.minCount && w.length <= 100 && !(SPECIAL_TOKENS as readonly string[]).includes(w))
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .slice(0, Math.max(0, opts.maxSize - SPECIAL_TOKENS.length))
    .map(([w]) => w);
  return [...SPECIAL_TOKENS, ...words];
}

const BERT_NORMALIZER = { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true };

function normalizerAndPreTokenizer(style: PreTokenization): { normalizer: object; pre_tokenizer: object } {
  if (style === 'bert') return { normalizer: BERT_NORMALIZER, pre_tokenizer: { type: 'BertPreTokenizer' } };
  return {
    normalizer: { type: 'Sequence', normalizers: [{ type: 'Replace', pattern: { String: '\u2019' }, content: "'" }, BERT_NORMALIZER] },
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        { type: 'WhitespaceSplit' },
        { type: 'Split', pattern: { Regex: NEGATION_SPLIT_PATTERN }, behavior: 'Isolated', invert: false },
      ],
    },
  };
}

export function tokenizerJson(vocab: string[], style: PreTokenization = 'bert'): object {
  const special = (id: number) => ({ id, content: vocab[id], single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: SPECIAL_TOKENS.map((_, i) => special(i)),
    ...normalizerAndPreTokenizer(style),
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '[SEP]', type_id: 0 } }],
      pair: [
        { SpecialToken: { id: '[CLS]', type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: '[SEP]', type_id: 0 } },
        { Sequence: { id: 'B', type_id: 1 } },
        { SpecialToken: { id: '[SEP]', type_id: 1 } },
      ],
      special_tokens: {
        '[CLS]': { id: '[CLS]', ids: [CLS_ID], tokens: ['[CLS]'] },
        '[SEP]': { id: '[SEP]', ids: [SEP_ID], tokens: ['[SEP]'] },
      },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: {
      type: 'WordPiece',
      unk_token: '[UNK]',
      continuing_subword_prefix: '##',
      max_input_chars_per_word: 100,
      vocab: Object.fromEntries(vocab.map((w, i) => [w, i])),
    },
  };
}

export function tokenizerConfig(maxLength: number): object {
  return {
    tokenizer_class: 'BertTokenizer',
    do_lower_case: true,
    do_basic_tokenize: true,
    tokenize_chinese_chars: true,
    strip_accents: null,
    never_split: null,
    model_max_length: maxLength,
    clean_up_tokenization_spaces: true,
    pad_token: '[PAD]',
    unk_token: '[UNK]',
    cls_token: '[CLS]',
    sep_token: '[SEP]',
    mask_token: '[MASK]',
    padding_side: 'right',
  };
}

/** Writes tokenizer.json + tokenizer_config.json into `dir`. */
export function writeTokenizer(dir: string, vocab: string[], maxLength: number, style: PreTokenization = 'bert'): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(resolve(dir, 'tokenizer.json'), JSON.stringify(tokenizerJson(vocab, style)) + '\n');
  writeFileSync(resolve(dir, 'tokenizer_config.json'), JSON.stringify(tokenizerConfig(maxLength), null, 2) + '\n');
}

export interface TextTokenizer {
  /** Ids of one text, with [CLS]/[SEP], truncated to maxLength. */
  encode(text: string): number[];
  vocabSize: number;
}

/**
 * Loads the tokenizer in `dir` exactly as the server does: `AutoTokenizer.from_pretrained` with
 * remote models disabled, `localModelPath` = the parent folder and the folder name as model id.
 */
export async function loadTokenizer(dir: string, maxLength: number): Promise<TextTokenizer> {
  const { AutoTokenizer, env } = await import('@huggingface/transformers');
  const abs = resolve(dir);
  const prev = { allowRemoteModels: env.allowRemoteModels, allowLocalModels: env.allowLocalModels, localModelPath: env.localModelPath };
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  env.localModelPath = dirname(abs) + '/';
  try {
    const tok = await AutoTokenizer.from_pretrained(basename(abs));
    const json = JSON.parse(readFileSync(resolve(abs, 'tokenizer.json'), 'utf8')) as { model: { vocab: Record<string, number> } };
    const vocabSize = Object.keys(json.model.vocab).length;
    return {
      vocabSize,
      encode(text: string): number[] {
        const enc = tok(text, { truncation: true, max_length: maxLength, return_tensor: false }) as { input_ids: number[] };
        return enc.input_ids;
      },
    };
  } finally {
    env.allowRemoteModels = prev.allowRemoteModels;
    env.allowLocalModels = prev.allowLocalModels;
    env.localModelPath = prev.localModelPath;
  }
}
