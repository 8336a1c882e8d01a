/**
 * A faster path for BERT-style WordPiece tokenizers (BERT, DistilBERT and Vigil's own
 * sentiment/spam models) on ASCII text: the same ids transformers.js gives, in one pass over
 * the text instead of its normalizer, added-token splitter, pre-tokenizer regex, WordPiece
 * model and template, each building its own arrays of strings (it was ~14 % of the server
 * thread's time serving the small sentiment model).
 *
 * It only answers when it can be exact: the tokenizer.json must have exactly the pipeline
 * below, and the text must be ASCII with no control character other than tab/newline/CR and
 * no added token's text (`[CLS]` typed by a user is a special token in transformers.js).
 * Otherwise `encode` returns undefined and the caller uses transformers.js. For ASCII text:
 *
 * - BertNormalizer: clean_text drops control characters and turns tab/newline/CR into spaces;
 *   CJK handling and accent stripping do not change ASCII; lowercase is toLowerCase().
 * - BertPreTokenizer: words are runs of letters and digits; every other printable character
 *   (U+0021-U+002F, U+003A-U+0040, U+005B-U+0060, U+007B-U+007E) is a token of its own.
 * - WordPiece: greedy longest match from the left, continuations with the prefix (`##`); a
 *   word with a piece that is not in the vocabulary, or longer than max_input_chars_per_word,
 *   is one unknown token.
 * - TemplateProcessing `[CLS] $A [SEP]` (or BertProcessing): the two special tokens around.
 *
 * test/unit/wordpiece-ascii.test.ts compares it with transformers.js on every SST-2 sentence
 * and on random strings; the text-classification pipeline also checks a few at load.
 */

interface TokenizerJson {
  added_tokens?: { id: number; content: string; normalized?: boolean }[];
  normalizer?: { type?: string; clean_text?: boolean; lowercase?: boolean } | null;
  pre_tokenizer?: { type?: string } | null;
  model?: { type?: string; vocab?: unknown; unk_token?: string; continuing_subword_prefix?: string; max_input_chars_per_word?: number };
  post_processor?: {
    type?: string;
    single?: Record<string, { id?: string }>[];
    cls?: [string, number];
    sep?: [string, number];
  } | null;
}

export interface AsciiWordPiece {
  /** Token ids with [CLS]/[SEP], or undefined when the text needs the general tokenizer. */
  encode(text: string): number[] | undefined;
}

const enum CharClass {
  Word,
  Punctuation,
  Space,
  /** Control characters (removed by clean_text, joining their neighbours) and non-ASCII. */
  Unsupported,
}

const CLASS_OF: CharClass[] = Array.from({ length: 128 }, (_, c) => {
  if (c === 9 || c === 10 || c === 13 || c === 32) return CharClass.Space;
  if (c < 32 || c === 127) return CharClass.Unsupported;
  if ((c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122)) return CharClass.Word;
  return CharClass.Punctuation;
});

/** Words looked up so far; bounded, since clients choose the words. */
const MAX_CACHED_WORDS = 20_000;

/** The `[CLS]`/`[SEP]` token strings of the post-processor, when it is the plain single-sequence template. */
function templateTokens(post: TokenizerJson['post_processor']): [string, string] | undefined {
  if (post?.type === 'BertProcessing' && post.cls && post.sep) return [post.cls[0], post.sep[0]];
  if (post?.type !== 'TemplateProcessing' || post.single?.length !== 3) return undefined;
  const [first, middle, last] = post.single;
  const cls = first?.SpecialToken?.id;
  const sep = last?.SpecialToken?.id;
  if (cls === undefined || sep === undefined || middle?.Sequence?.id !== 'A') return undefined;
  return [cls, sep];
}

/** The fast path for this tokenizer.json, or undefined when its pipeline is not the one above. */
export function asciiWordPiece(json: TokenizerJson): AsciiWordPiece | undefined {
  const { normalizer, pre_tokenizer: preTokenizer, model } = json;
  if (normalizer?.type !== 'BertNormalizer' || normalizer.clean_text !== true) return undefined;
  if (preTokenizer?.type !== 'BertPreTokenizer') return undefined;
  if (model?.type !== 'WordPiece' || typeof model.continuing_subword_prefix !== 'string' || typeof model.unk_token !== 'string') return undefined;
  if (typeof model.vocab !== 'object' || model.vocab === null || Array.isArray(model.vocab)) return undefined;
  const template = templateTokens(json.post_processor);
  if (!template) return undefined;
  // Added tokens matched after normalization (lowercased) would need a second look at the text.
  if ((json.added_tokens ?? []).some((t) => t.normalized !== false)) return undefined;

  const vocab = new Map<string, number>(Object.entries(model.vocab as Record<string, number>));
  const added = new Map((json.added_tokens ?? []).map((t) => [t.content, t.id]));
  const unknown = added.get(model.unk_token) ?? vocab.get(model.unk_token);
  if (unknown === undefined) return undefined;
  const unkId: number = unknown;
  // As transformers.js maps tokens to ids: added tokens first, then the vocabulary, else unknown.
  const idOf = (token: string): number => added.get(token) ?? vocab.get(token) ?? unkId;
  const [clsId, sepId] = template.map(idOf) as [number, number];
  const addedTexts = [...added.keys()].filter((t) => t.length > 0);
  const prefix = model.continuing_subword_prefix;
  const maxChars = model.max_input_chars_per_word ?? 100;
  const lowercase = normalizer.lowercase === true;
  const punctuationIds = CLASS_OF.map((cls, c) => (cls === CharClass.Punctuation ? idOf(String.fromCharCode(c)) : unkId));
  const cache = new Map<string, readonly number[]>();

  function wordPiece(word: string): readonly number[] {
    if (word.length > maxChars) return [unkId];
    const pieces: number[] = [];
    let start = 0;
    while (start < word.length) {
      let end = word.length;
      let found: number | undefined;
      for (; end > start; end--) {
        const piece = start > 0 ? prefix + word.slice(start, end) : word.slice(start, end);
        if (vocab.has(piece)) {
          found = idOf(piece);
          break;
        }
      }
      if (found === undefined) return [unkId];
      pieces.push(found);
      start = end;
    }
    return pieces;
  }

  function wordIds(word: string): readonly number[] {
    let ids = cache.get(word);
    if (ids === undefined) {
      ids = wordPiece(word);
      if (cache.size >= MAX_CACHED_WORDS) cache.clear();
      cache.set(word, ids);
    }
    return ids;
  }

  return {
    encode(text) {
      for (const special of addedTexts) if (text.includes(special)) return undefined;
      const ids = [clsId];
      let wordStart = -1;
      for (let i = 0; i <= text.length; i++) {
        const c = i < text.length ? text.charCodeAt(i) : 32;
        const cls = c < 128 ? CLASS_OF[c]! : CharClass.Unsupported;
        if (cls === CharClass.Word) {
          if (wordStart < 0) wordStart = i;
          continue;
        }
        if (cls === CharClass.Unsupported) return undefined;
        if (wordStart >= 0) {
          const word = text.slice(wordStart, i);
          for (const id of wordIds(lowercase ? word.toLowerCase() : word)) ids.push(id);
          wordStart = -1;
        }
        if (cls === CharClass.Punctuation) ids.push(punctuationIds[c]!);
      }
      ids.push(sepId);
      return ids;
    },
  };
}
