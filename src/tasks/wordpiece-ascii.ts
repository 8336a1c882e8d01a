/**
 * A faster path for BERT-style WordPiece tokenizers (BERT, DistilBERT and Vigil's own
 * sentiment/spam models) on ASCII text: the same ids transformers.js gives, in one pass over
 * the text instead of its normalizer, added-token splitter, pre-tokenizer regex, WordPiece
 * model and template, each building its own arrays of strings (it was ~14 % of the server
 * thread's time serving the small sentiment model).
 *
 * It only answers when it can be exact: the tokenizer.json must have one of the pipelines
 * below, and the text must be ASCII with no control character other than tab/newline/CR and
 * no added token's text (`[CLS]` typed by a user is a special token in transformers.js).
 * Otherwise `encode` returns undefined and the caller uses transformers.js. For ASCII text:
 *
 * - Normalizer: BertNormalizer, alone or after `Replace` steps whose pattern is a non-ASCII
 *   string (sentiment's `’` -> `'`), which cannot occur in ASCII text. clean_text drops control
 *   characters and turns tab/newline/CR into spaces; CJK handling and accent stripping do not
 *   change ASCII; lowercase is toLowerCase().
 * - Pre-tokenizer, one of:
 *   - BertPreTokenizer: words are runs of letters and digits; every other printable character
 *     (U+0021-U+002F, U+003A-U+0040, U+005B-U+0060, U+007B-U+007E) is a token of its own;
 *   - WhitespaceSplit then an isolating Split whose regex is literal alternatives followed by
 *     one character class, e.g. sentiment's `n't|[\p{P}\x21-\x2F...]`: at each position the
 *     literals are tried in order (both regex engines are leftmost-first), then the class; a
 *     match is a token of its own, and the text between matches is a word. Which ASCII
 *     characters the class holds is read by running it, so no regex syntax is re-implemented.
 * - WordPiece: greedy longest match from the left, continuations with the prefix (`##`); a
 *   word with a piece that is not in the vocabulary, or longer than max_input_chars_per_word,
 *   is one unknown token.
 * - TemplateProcessing `[CLS] $A [SEP]` (or BertProcessing): the two special tokens around.
 *
 * test/unit/wordpiece-ascii.test.ts compares it with transformers.js on every SST-2 sentence
 * and on random strings, for both pre-tokenizers; the text-classification pipeline also checks
 * a few at load.
 */

interface NormalizerJson {
  type?: string;
  clean_text?: boolean;
  lowercase?: boolean;
  normalizers?: NormalizerJson[];
  pattern?: { String?: string; Regex?: string };
}

interface PreTokenizerJson {
  type?: string;
  pretokenizers?: PreTokenizerJson[];
  pattern?: { String?: string; Regex?: string };
  behavior?: string;
  invert?: boolean;
}

interface TokenizerJson {
  added_tokens?: { id: number; content: string; normalized?: boolean }[];
  normalizer?: NormalizerJson | null;
  pre_tokenizer?: PreTokenizerJson | null;
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

const isAlphanumeric = (c: number) => (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);

/** The class of each ASCII code, given which printable characters are tokens of their own. */
function charClasses(isolated: (c: number) => boolean): CharClass[] {
  return Array.from({ length: 128 }, (_, c) => {
    if (c === 9 || c === 10 || c === 13 || c === 32) return CharClass.Space;
    if (c < 32 || c === 127) return CharClass.Unsupported;
    return isolated(c) ? CharClass.Punctuation : CharClass.Word;
  });
}

/** How the pre-tokenizer cuts ASCII text: the class of each code, and literal tokens tried first. */
interface Splitting {
  classes: CharClass[];
  literals: string[];
}

/** BERT's pre-tokenizer isolates every printable ASCII character that is not a letter or digit. */
const BERT_SPLITTING: Splitting = { classes: charClasses((c) => !isAlphanumeric(c)), literals: [] };

/**
 * `literal|literal|[class]`: literals of letters, digits and apostrophes (no regex syntax), then
 * one bracketed class with no alternation inside. Anything else (groups, look-arounds,
 * quantifiers) is left to the general tokenizer.
 */
const SPLIT_PATTERN = /^((?:[A-Za-z0-9']+\|)*)(\[[^|]*\])$/;

function splittingOf(preTokenizer: PreTokenizerJson | null | undefined): Splitting | undefined {
  if (preTokenizer?.type === 'BertPreTokenizer') return BERT_SPLITTING;
  const steps = preTokenizer?.type === 'Sequence' ? preTokenizer.pretokenizers : undefined;
  if (steps?.length !== 2 || steps[0]?.type !== 'WhitespaceSplit') return undefined;
  const split = steps[1]!;
  const regex = split.pattern?.Regex;
  if (split.type !== 'Split' || split.behavior !== 'Isolated' || split.invert !== false || typeof regex !== 'string') return undefined;
  const parts = SPLIT_PATTERN.exec(regex);
  if (!parts) return undefined;
  let characterClass: RegExp;
  try {
    characterClass = new RegExp(`^${parts[2]}$`, 'u');
  } catch {
    return undefined;
  }
  const literals = parts[1]!.split('|').filter((literal) => literal.length > 0);
  return { classes: charClasses((c) => characterClass.test(String.fromCharCode(c))), literals };
}

/** BertNormalizer with clean_text, alone or after Replace steps that cannot touch ASCII text. */
function bertNormalizerOf(normalizer: NormalizerJson | null | undefined): NormalizerJson | undefined {
  if (normalizer?.type === 'BertNormalizer') return normalizer.clean_text === true ? normalizer : undefined;
  const steps = normalizer?.type === 'Sequence' ? normalizer.normalizers : undefined;
  const last = steps?.at(-1);
  if (!steps || last?.type !== 'BertNormalizer' || last.clean_text !== true) return undefined;
  const asciiSafe = (step: NormalizerJson) =>
    step.type === 'Replace' && typeof step.pattern?.String === 'string' && step.pattern.String.length > 0 && /[^\x00-\x7f]/.test(step.pattern.String);
  return steps.slice(0, -1).every(asciiSafe) ? last : undefined;
}

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
  const { model } = json;
  const normalizer = bertNormalizerOf(json.normalizer);
  const splitting = splittingOf(json.pre_tokenizer);
  if (!normalizer || !splitting) return undefined;
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
  const { classes, literals } = splitting;
  const punctuationIds = classes.map((cls, c) => (cls === CharClass.Punctuation ? idOf(String.fromCharCode(c)) : unkId));
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

  /** The index after the literal token that starts at `i`, or -1 (literals are tried in order). */
  function literalEnd(text: string, i: number): number {
    for (const literal of literals) if (text.startsWith(literal, i)) return i + literal.length;
    return -1;
  }

  return {
    encode(original) {
      for (const special of addedTexts) if (original.includes(special)) return undefined;
      // The literals are matched on the normalized text; lowercasing ASCII keeps every index.
      const text = lowercase && literals.length > 0 ? original.toLowerCase() : original;
      const lowerWords = lowercase && literals.length === 0;
      const ids = [clsId];
      let wordStart = -1;
      const endWord = (end: number) => {
        if (wordStart < 0) return;
        const word = text.slice(wordStart, end);
        for (const id of wordIds(lowerWords ? word.toLowerCase() : word)) ids.push(id);
        wordStart = -1;
      };
      for (let i = 0; i <= text.length; i++) {
        // Checked on the original: a non-ASCII character can lowercase to an ASCII one (U+212A).
        const c = i < text.length ? original.charCodeAt(i) : 32;
        const cls = c < 128 ? classes[c]! : CharClass.Unsupported;
        if (cls === CharClass.Unsupported) return undefined;
        if (cls === CharClass.Space) {
          endWord(i);
          continue;
        }
        if (literals.length > 0) {
          const end = literalEnd(text, i);
          if (end >= 0) {
            // The literal is printable ASCII in the lowercased text; the original must be too.
            for (let j = i + 1; j < end; j++) if (original.charCodeAt(j) >= 128) return undefined;
            endWord(i);
            for (const id of wordIds(text.slice(i, end))) ids.push(id);
            i = end - 1;
            continue;
          }
        }
        if (cls === CharClass.Punctuation) {
          endWord(i);
          ids.push(punctuationIds[c]!);
        } else if (wordStart < 0) {
          wordStart = i;
        }
      }
      ids.push(sepId);
      return ids;
    },
  };
}
