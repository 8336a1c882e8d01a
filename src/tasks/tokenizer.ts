import { AutoTokenizer, env } from '@huggingface/transformers';

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

/**
 * Loads tokenizer.json + tokenizer_config.json from a folder (Hugging Face layout) through
 * transformers.js, so Vigil tokenizes exactly as the model's authors did.
 */
export async function loadTokenizer(dir: string): Promise<TextTokenizer> {
  const tokenizer = await AutoTokenizer.from_pretrained(dir, { local_files_only: true });
  const padId = tokenizer.pad_token_id ?? 0;
  const sepId = tokenizer.sep_token_id ?? tokenizer.eos_token_id;
  const declared = Number(tokenizer.model_max_length);
  const modelMaxLength = Number.isFinite(declared) && declared > 0 ? Math.min(declared, MAX_SEQUENCE) : MAX_SEQUENCE;
  return {
    padId,
    modelMaxLength,
    encode(text, maxLength) {
      const ids = tokenizer.encode(text);
      if (ids.length <= maxLength) return { ids, truncated: false };
      const last = ids[ids.length - 1];
      const kept = last !== undefined && last === sepId ? [...ids.slice(0, maxLength - 1), last] : ids.slice(0, maxLength);
      return { ids: kept, truncated: true };
    },
  };
}
