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
      const ids = fast?.encode(text) ?? tokenizer.encode(text).ids;
      if (ids.length <= maxLength) return { ids, truncated: false };
      const last = ids[ids.length - 1];
      const kept = last !== undefined && last === sepId ? [...ids.slice(0, maxLength - 1), last] : ids.slice(0, maxLength);
      return { ids: kept, truncated: true };
    },
  };
}
