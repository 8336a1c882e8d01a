import { readFileSync } from 'node:fs';
import path from 'node:path';
import { AutoTokenizer, env } from '@huggingface/transformers';
import { asciiWordPiece, type AsciiWordPiece } from './wordpiece-ascii.js';

// Tokenizers are read from model folders on disk; nothing is fetched at serving time.
env.allowRemoteModels = false;
env.localModelPath = '';

export interface TextTokenizer {
  /** Token ids with the model's special tokens, cut to maxLength (keeping the closing special token). */
  encode(text: string, maxLength: number): { ids: number[]; truncated: boolean };
  readonly padId: number;
  readonly modelMaxLength: number;
}

/** Largest sequence any of our models accepts; guards against tokenizers that say "1e30". */
const MAX_SEQUENCE = 512;

/** Texts the fast path must tokenize exactly as transformers.js does before it is trusted. */
const SELF_CHECK = ['I am so happy today!', "It's NOT the worst movie... (2/10), isn't it?", 'unbelievably un-re-watchable  \t tokenization'];

/** The ASCII WordPiece fast path for this folder's tokenizer.json, when it applies and agrees with the general one. */
function fastPathFor(dir: string, general: (text: string) => number[]): AsciiWordPiece | undefined {
  let fast: AsciiWordPiece | undefined;
  try {
    fast = asciiWordPiece(JSON.parse(readFileSync(path.join(dir, 'tokenizer.json'), 'utf8')));
  } catch {
    return undefined;
  }
  const agrees = (text: string) => JSON.stringify(fast?.encode(text)) === JSON.stringify(general(text));
  return fast && SELF_CHECK.every(agrees) ? fast : undefined;
}

/**
 * Loads tokenizer.json + tokenizer_config.json from a folder (Hugging Face layout) through
 * transformers.js, so Vigil tokenizes exactly as the model's authors did. BERT-style WordPiece
 * tokenizers get an exact fast path for ASCII text (src/tasks/wordpiece-ascii.ts).
 */
export async function loadTokenizer(dir: string): Promise<TextTokenizer> {
  const tokenizer = await AutoTokenizer.from_pretrained(dir, { local_files_only: true });
  const fast = fastPathFor(dir, (text) => tokenizer.encode(text));
  const padId = tokenizer.pad_token_id ?? 0;
  const sepId = tokenizer.sep_token_id ?? tokenizer.eos_token_id;
  const declared = Number(tokenizer.model_max_length);
  const modelMaxLength = Number.isFinite(declared) && declared > 0 ? Math.min(declared, MAX_SEQUENCE) : MAX_SEQUENCE;
  return {
    padId,
    modelMaxLength,
    encode(text, maxLength) {
      const ids = fast?.encode(text) ?? tokenizer.encode(text);
      if (ids.length <= maxLength) return { ids, truncated: false };
      const last = ids[ids.length - 1];
      const kept = last !== undefined && last === sepId ? [...ids.slice(0, maxLength - 1), last] : ids.slice(0, maxLength);
      return { ids: kept, truncated: true };
    },
  };
}
