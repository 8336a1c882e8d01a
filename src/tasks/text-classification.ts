import path from 'node:path';
import { InvalidInput } from '../errors.js';
import type { ModelSpec } from '../models/spec.js';
import { type OnnxSession, Tensor } from '../runtimes/onnx/session.js';
import { loadOnnxSession, OnnxPipeline } from './onnx-session-loader.js';
import { loadTokenizer, type SpecialTokenIds, type TextTokenizer } from './tokenizer.js';
import { softmax, topClass } from './math.js';
import type { ParsedRequest, Pipeline, Prediction, RequestLimits, TaskDefinition } from './types.js';

/** One text after tokenization: the ids the model sees and whether the text had to be cut. */
export interface EncodedText {
  ids: number[];
  truncated: boolean;
}

/** A JSON string field that must hold non-blank text. */
function checkText(value: unknown, field: string): string {
  if (typeof value !== 'string') {
    throw new InvalidInput(`"${field}" must be a string, got ${value === null ? 'null' : typeof value}`);
  }
  if (value.trim() === '') throw new InvalidInput(`"${field}" must not be empty`);
  return value;
}

/** `{"text": "..."}` or `{"texts": ["...", ...]}`. Shared by every task whose input is text. */
export function parseTextRequest(body: unknown, limits: RequestLimits): ParsedRequest<string> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new InvalidInput('the body must be a JSON object with "text" (a string) or "texts" (an array of strings)');
  }
  const record = body as Record<string, unknown>;
  if ('text' in record && 'texts' in record) throw new InvalidInput('send either "text" or "texts", not both');
  if ('texts' in record) {
    const texts = record.texts;
    if (!Array.isArray(texts)) throw new InvalidInput('"texts" must be an array of strings');
    if (texts.length === 0) throw new InvalidInput('"texts" must not be empty');
    if (texts.length > limits.maxBatchInputs) {
      throw new InvalidInput(`"texts" has ${texts.length} items; at most ${limits.maxBatchInputs} are allowed per request`, 'too_many_inputs');
    }
    return { inputs: texts.map((t, i) => checkText(t, `texts[${i}]`)), batch: true };
  }
  if (!('text' in record)) throw new InvalidInput('missing field "text" (or "texts" for a batch)');
  return { inputs: [checkText(record.text, 'text')], batch: false };
}

/**
 * Drift features of one tokenized text, as the training code defines them
 * (src/training/text-pipeline.ts): word tokens exclude the special tokens; the unknown-token
 * rate is the share of word tokens that are [UNK] (0 for a text without word tokens).
 */
export function textFeatures(ids: readonly number[], tokens: SpecialTokenIds): { tokenCount: number; unknownTokenRate: number } {
  let words = 0;
  let unknown = 0;
  for (const id of ids) {
    if (id === tokens.unk) {
      words++;
      unknown++;
    } else if (!tokens.special.has(id)) words++;
  }
  return { tokenCount: words, unknownTokenRate: words > 0 ? unknown / words : 0 };
}

/** Labels from the spec, or LABEL_0.. when a model folder did not name them. */
function labelsFor(spec: ModelSpec, classes: number): string[] {
  const labels = spec.labels ?? [];
  return Array.from({ length: classes }, (_, i) => labels[i] ?? `LABEL_${i}`);
}

/** Little-endian hosts (all that onnxruntime-node ships for) can write int64 tensors as pairs of int32s. */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * Token ids and attention mask, one row per text, padded to `width`. An id is a small
 * non-negative integer: written as the low half of each int64 through an Int32Array view,
 * rather than as one BigInt allocated per token.
 */
export function writeInt64Rows(ids: BigInt64Array, mask: BigInt64Array, batch: readonly EncodedText[], width: number, padId: number): void {
  if (!LITTLE_ENDIAN) {
    const pad = BigInt(padId);
    batch.forEach((encoded, row) => {
      for (let col = 0; col < width; col++) {
        const id = encoded.ids[col];
        ids[row * width + col] = id === undefined ? pad : BigInt(id);
        mask[row * width + col] = id === undefined ? 0n : 1n;
      }
    });
    return;
  }
  const ids32 = new Int32Array(ids.buffer, ids.byteOffset, ids.length * 2);
  const mask32 = new Int32Array(mask.buffer, mask.byteOffset, mask.length * 2);
  batch.forEach((encoded, row) => {
    const tokens = encoded.ids;
    for (let col = 0; col < width; col++) {
      const at = 2 * (row * width + col);
      const real = col < tokens.length;
      const id = real ? tokens[col]! : padId;
      ids32[at] = id;
      if (id < 0) ids32[at + 1] = -1; // sign extension (no tokenizer we know has negative ids)
      mask32[at] = real ? 1 : 0;
    }
  });
}

class TextClassificationPipeline extends OnnxPipeline implements Pipeline<string, EncodedText, Float32Array> {
  /** Label names by class index, set on the first decode (the graph's output says how many). */
  private labels: string[] | undefined;

  constructor(
    private readonly spec: ModelSpec,
    session: OnnxSession,
    private readonly tokenizer: TextTokenizer,
    private readonly maxLength: number,
    private readonly usesAttentionMask: boolean,
    private readonly specialTokens: SpecialTokenIds = { special: new Set() },
  ) {
    super(session);
  }

  encode(text: string): EncodedText {
    return this.tokenizer.encode(text, this.maxLength);
  }

  /** Drift features: tokenCount and unknownTokenRate (see textFeatures). */
  features(encoded: EncodedText): Record<string, number> {
    return textFeatures(encoded.ids, this.specialTokens);
  }

  async runBatch(batch: EncodedText[]): Promise<Float32Array[]> {
    // Pad to the longest sequence in this batch, not to maxLength: short texts stay cheap.
    let width = 0;
    for (const encoded of batch) width = Math.max(width, encoded.ids.length);
    const ids = new BigInt64Array(batch.length * width);
    const mask = new BigInt64Array(batch.length * width);
    writeInt64Rows(ids, mask, batch, width, this.tokenizer.padId);
    const feeds: Record<string, Tensor> = { input_ids: new Tensor('int64', ids, [batch.length, width]) };
    if (this.usesAttentionMask) feeds.attention_mask = new Tensor('int64', mask, [batch.length, width]);
    const outputs = await this.session.run(feeds);
    const logits = outputs.logits ?? Object.values(outputs)[0];
    if (!logits) throw new Error('the model returned no output');
    const classes = logits.dims[1] ?? 1;
    const data = logits.data as Float32Array;
    return batch.map((_, row) => data.slice(row * classes, (row + 1) * classes));
  }

  decode(logits: Float32Array, encoded: EncodedText): Prediction {
    const probabilities = softmax(logits);
    if (this.labels?.length !== probabilities.length) this.labels = labelsFor(this.spec, probabilities.length);
    return { ...topClass(probabilities, this.labels), truncated: encoded.truncated };
  }

  sampleInput(): string {
    return 'I am so happy today!';
  }
}

export const textClassification: TaskDefinition<string> = {
  name: 'text-classification',
  parseRequest: parseTextRequest,
  async load(spec, options) {
    if (!spec.onnx) throw new Error(`model "${spec.name}": text-classification needs an onnx runtime section`);
    const pre = (spec.preprocessing ?? {}) as { tokenizer?: string; maxLength?: number };
    // The session starts loading first: on a worker, it loads on that thread while this one
    // parses the tokenizer (a small graph loads and is measured on this thread either way).
    const loadingSession = loadOnnxSession(spec, options);
    let tokenizer: TextTokenizer;
    try {
      tokenizer = await loadTokenizer(path.resolve(options.dir, pre.tokenizer ?? '.'));
    } catch (error) {
      await loadingSession.then((session) => session.release(), () => undefined);
      throw error;
    }
    const session = await loadingSession;
    const maxLength = Math.min(pre.maxLength ?? tokenizer.modelMaxLength, tokenizer.modelMaxLength);
    return new TextClassificationPipeline(spec, session, tokenizer, maxLength, session.inputNames.includes('attention_mask'), tokenizer.specialTokens);
  },
};
