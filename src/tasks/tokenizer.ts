import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { asciiWordPiece, type AsciiWordPiece } from './wordpiece-ascii.js';

/** The tokenizer's [UNK] id and its other special tokens ([CLS], [SEP], [PAD]...), read from tokenizer.json. */
export interface SpecialTokenIds {
  unk?: number;
  special: Set<number>;
}

export interface TextTokenizer {
  /** Token ids with the model's special tokens, cut to maxLength (keeping the closing special token). */
  encode(text: string, maxLength: number): { ids: number[]; truncated: boolean };
  readonly padId: number;
  readonly modelMaxLength: number;
  readonly specialTokens: SpecialTokenIds;
}

/** Largest sequence any of our models accepts; guards against tokenizers that say "1e30". */
const MAX_SEQUENCE = 512;

/** Texts the fast path must tokenize exactly as the general tokenizer does before it is trusted. */
const SELF_CHECK = ['I am so happy today!', "It's NOT the worst movie... (2/10), isn't it?", 'unbelievably un-re-watchable  \t tokenization'];

/** The ASCII WordPiece fast path for this tokenizer.json, when it applies and agrees with the general one. */
function fastPathFor(json: Record<string, unknown>, general: (text: string) => number[]): AsciiWordPiece | undefined {
  let fast: AsciiWordPiece | undefined;
  try {
    fast = asciiWordPiece(json);
  } catch {
    return undefined;
  }
  const agrees = (text: string) => JSON.stringify(fast?.encode(text)) === JSON.stringify(general(text));
  return fast && SELF_CHECK.every(agrees) ? fast : undefined;
}

type TokenizerConfig = Record<string, unknown> & { model_max_length?: unknown };

/**
 * A special token named in tokenizer_config.json, as a plain string or an AddedToken object;
 * the first key present wins (as in transformers.js, so pad falls back to eos).
 */
function tokenFromConfig(config: TokenizerConfig, ...keys: string[]): string | undefined {
  for (const key of keys) {
    const item = config[key];
    if (typeof item === 'string' && item) return item;
    if (item && typeof item === 'object' && (item as { __type?: unknown }).__type === 'AddedToken') return String((item as { content: unknown }).content);
  }
  return undefined;
}

interface TokenizerJson {
  added_tokens?: { id: number; content: string; special?: boolean }[];
  model?: { unk_token?: string; vocab?: Record<string, number> | unknown };
}

function specialTokensOf(json: TokenizerJson): SpecialTokenIds {
  const added = json.added_tokens ?? [];
  const unkToken = json.model?.unk_token ?? '[UNK]';
  const vocab = json.model?.vocab;
  const fromVocab = vocab && typeof vocab === 'object' && !Array.isArray(vocab) ? (vocab as Record<string, number>)[unkToken] : undefined;
  const unk = added.find((t) => t.content === unkToken)?.id ?? fromVocab;
  return { unk, special: new Set(added.filter((t) => t.special && t.id !== unk).map((t) => t.id)) };
}

function readJson(dir: string, file: string): Record<string, unknown> {
  const full = path.join(dir, file);
  try {
    return JSON.parse(readFileSync(full, 'utf8')) as Record<string, unknown>;
  } catch (error) {
    throw new Error(`cannot read the tokenizer's ${file} in ${dir}: ${(error as Error).message}`);
  }
}

/**
 * Loads tokenizer.json + tokenizer_config.json from a folder (Hugging Face layout) with
 * @huggingface/tokenizers, the tokenizer library inside transformers.js (so Vigil tokenizes
 * exactly as the model's authors did). Not through transformers.js itself: importing that
 * also loads onnxruntime-node and sharp into the server thread (~0.5 s and ~37 MiB at start)
 * for a tokenizer that needs neither. BERT-style WordPiece tokenizers get an exact fast path
 * for ASCII text (src/tasks/wordpiece-ascii.ts).
 */
export async function loadTokenizer(dir: string): Promise<TextTokenizer> {
  const config = readJson(dir, 'tokenizer_config.json') as TokenizerConfig;
  // Parsed once: a large vocabulary takes a while to parse (DistilBERT's 30k entries, ~0.7 MB).
  const json = readJson(dir, 'tokenizer.json');
  const tokenizer = new Tokenizer(json, config);
  const fast = fastPathFor(json, (text) => tokenizer.encode(text).ids);
  const id = (token: string | undefined) => (token === undefined ? undefined : tokenizer.token_to_id(token));
  const padId = id(tokenFromConfig(config, 'pad_token', 'eos_token')) ?? 0;
  const sepId = id(tokenFromConfig(config, 'sep_token')) ?? id(tokenFromConfig(config, 'eos_token'));
  const declared = Number(config.model_max_length);
  const modelMaxLength = Number.isFinite(declared) && declared > 0 ? Math.min(declared, MAX_SEQUENCE) : MAX_SEQUENCE;
  return {
    padId,
    modelMaxLength,
    specialTokens: specialTokensOf(json as TokenizerJson),
    encode(text, maxLength) {
      const tokenize = (part: string) => fast?.encode(part) ?? tokenizer.encode(part).ids;
      const cut = (ids: number[]) => {
        const last = ids[ids.length - 1];
        return last !== undefined && last === sepId ? [...ids.slice(0, maxLength - 1), last] : ids.slice(0, maxLength);
      };
      return encodeWithinBudget(text, maxLength, tokenize, cut);
    },
  };
}

/**
 * Characters looked at per allowed token on the first try. English runs at about 4-5
 * characters per WordPiece token, so a text this long almost always yields more tokens than
 * the model takes, and one cheap try settles it.
 */
const FIRST_TRY_CHARS_PER_TOKEN = 8;
/**
 * Past this many characters per allowed token the text is cut without looking further: only
 * junk (200-letter "words", pages of spaces) needs more, and tokenizing it whole is the cost
 * this bounds (a 1 MB text took ~660 ms of the server thread before).
 */
const MAX_CHARS_PER_TOKEN = 32;
/** How far back from a window's end a whitespace is looked for, as a share of the window. */
const WHITESPACE_LOOKBACK = 0.5;

/** Index of the last whitespace in text[from, to), or -1. */
function lastWhitespace(text: string, from: number, to: number): number {
  for (let i = to - 1; i >= from; i--) {
    const c = text.charCodeAt(i);
    if (c === 32 || (c >= 9 && c <= 13) || c === 0xa0 || c === 0x3000 || (c >= 0x2000 && c <= 0x200a)) return i;
  }
  return -1;
}

/**
 * Tokenizes at most what the model will see. Cheaply by length first: only a prefix of a
 * generous number of characters per allowed token is tokenized, cut at a whitespace so every
 * word in it tokenizes as it would in the whole text. Then exactly: when that prefix already
 * yields more tokens than the model takes, its first tokens are the whole text's first tokens,
 * and the result is what tokenizing everything and cutting would give. When it does not, a
 * longer prefix is tried, up to MAX_CHARS_PER_TOKEN characters per token, where the text is cut
 * (and said to be). Exported for the tests, which compare it with tokenizing everything.
 */
export function encodeWithinBudget(
  text: string,
  maxLength: number,
  tokenize: (text: string) => number[],
  cut: (ids: number[]) => number[],
): { ids: number[]; truncated: boolean } {
  const maxWindow = Math.max(1024, maxLength * MAX_CHARS_PER_TOKEN);
  let window = Math.max(256, maxLength * FIRST_TRY_CHARS_PER_TOKEN);
  for (;;) {
    if (text.length <= window) {
      const ids = tokenize(text);
      return ids.length <= maxLength ? { ids, truncated: false } : { ids: cut(ids), truncated: true };
    }
    const space = lastWhitespace(text, Math.floor(window * (1 - WHITESPACE_LOOKBACK)), window);
    let end = space >= 0 ? space : window;
    // Never between the halves of a surrogate pair.
    const before = text.charCodeAt(end - 1);
    if (space < 0 && before >= 0xd800 && before <= 0xdbff) end--;
    const ids = tokenize(text.slice(0, end));
    if (ids.length > maxLength || window >= maxWindow) return { ids: ids.length > maxLength ? cut(ids) : ids, truncated: true };
    window = Math.min(maxWindow, window * 4);
  }
}
