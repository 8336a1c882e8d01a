import { InvalidInput } from '../errors.js';
import type { ModelSpec } from '../models/spec.js';
import { type OnnxSession, Tensor } from '../runtimes/onnx/session.js';
import { loadOnnxSession, OnnxPipeline } from './onnx-session-loader.js';
import { imageDecoder } from './image-decoder.js';
import { DEFAULT_IMAGE_LIMITS, decodeBase64Image, type FitOptions, type ImageLimits } from './image-preprocessing.js';
import { softmax, topClass } from './math.js';
import type { ParsedRequest, Pipeline, Prediction, RequestLimits, TaskDefinition } from './types.js';

/**
 * Image classification (digits): 28x28 grey images in, a label out. Clients send either the
 * pixels themselves (values in [0,1], bright ink on black, as in MNIST) or a PNG, which the
 * server turns into such pixels (src/tasks/image-preprocessing.ts).
 */

/**
 * One image as the request gave it: pixels (checked against the model's size in `encode`, since
 * only the loaded model knows its size) or PNG bytes (decoded in `encode`, before the queue).
 * `field` names it in errors.
 */
export type ImageInput = { pixels: unknown; field: string } | { png: Buffer; field: string };

/** `preprocessing.image` of the spec, with MNIST's conventions as defaults. */
export interface ImageSettings extends FitOptions {
  /** Standardisation the graph expects after [0,1] scaling, when it does not do it itself. */
  mean?: number;
  std?: number;
}

export function imageSettings(spec: ModelSpec): ImageSettings {
  const raw = ((spec.preprocessing ?? {}) as { image?: Record<string, unknown> }).image ?? {};
  const int = (key: string, fallback: number) => (Number.isInteger(raw[key]) && (raw[key] as number) > 0 ? (raw[key] as number) : fallback);
  const width = int('width', 28);
  const height = int('height', 28);
  const num = (key: string) => (typeof raw[key] === 'number' ? (raw[key] as number) : undefined);
  return {
    width,
    height,
    fit: raw.fit === 'stretch' ? 'stretch' : 'mnist',
    box: int('box', Math.round((Math.min(width, height) * 20) / 28)),
    invert: typeof raw.invert === 'boolean' ? raw.invert : 'auto',
    mean: num('mean'),
    std: num('std'),
  };
}

/** The pixels of one image: flat (width*height) or nested rows ([height][width]), every value a number in [0,1]. */
export function checkPixels(value: unknown, field: string, settings: { width: number; height: number }): Float32Array {
  const expected = settings.width * settings.height;
  // Already checked and converted (the Open Inference Protocol codec, warm-up).
  if (value instanceof Float32Array && value.length === expected) return value;
  if (!Array.isArray(value)) throw new InvalidInput(`"${field}" must be an array of ${expected} numbers (or ${settings.height} rows of ${settings.width})`);
  let flat: unknown[] = value;
  if (value.length === settings.height && value.every((row) => Array.isArray(row))) {
    const bad = value.findIndex((row) => (row as unknown[]).length !== settings.width);
    if (bad >= 0) throw new InvalidInput(`"${field}[${bad}]" has ${(value[bad] as unknown[]).length} values; each row must have ${settings.width}`);
    flat = value.flat();
  }
  if (flat.length !== expected) {
    throw new InvalidInput(`"${field}" has ${flat.length} values; expected ${expected} (${settings.height}x${settings.width}, row-major) or ${settings.height} rows of ${settings.width}`);
  }
  const pixels = new Float32Array(expected);
  for (let i = 0; i < expected; i++) {
    const v = flat[i];
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new InvalidInput(`"${field}" value ${i} must be a number, got ${v === null ? 'null' : typeof v}`);
    if (v < 0 || v > 1) throw new InvalidInput(`"${field}" value ${i} is ${v}; pixels must be in 0..1 (divide 0..255 values by 255)`);
    pixels[i] = v;
  }
  return pixels;
}

/** One image of a request: `{"pixels"}`/`{"image"}`, or (inside "inputs") a bare pixel array or base64 string. */
function parseImage(value: unknown, field: string): ImageInput {
  if (typeof value === 'string') return { png: decodeBase64Image(value, field), field };
  if (Array.isArray(value)) return { pixels: value, field };
  if (typeof value !== 'object' || value === null) {
    throw new InvalidInput(`"${field}" must be an object with "pixels" (numbers in 0..1) or "image" (a base64 PNG)`);
  }
  const record = value as Record<string, unknown>;
  if ('pixels' in record && 'image' in record) throw new InvalidInput(`"${field}": send either "pixels" or "image", not both`);
  if ('pixels' in record) return { pixels: record.pixels, field: `${field}.pixels` };
  if ('image' in record) {
    if (typeof record.image !== 'string') throw new InvalidInput(`"${field}.image" must be a base64 PNG string or a data: URL`);
    return { png: decodeBase64Image(record.image, `${field}.image`), field: `${field}.image` };
  }
  throw new InvalidInput(`"${field}" needs "pixels" (numbers in 0..1) or "image" (a base64 PNG)`);
}

export function parseImageRequest(body: unknown, limits: RequestLimits): ParsedRequest<ImageInput> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new InvalidInput('the body must be a JSON object with "pixels", "image" or "inputs" (an array of images)');
  }
  const record = body as Record<string, unknown>;
  if ('inputs' in record) {
    const inputs = record.inputs;
    if (!Array.isArray(inputs)) throw new InvalidInput('"inputs" must be an array of images ({"pixels"} or {"image"})');
    if (inputs.length === 0) throw new InvalidInput('"inputs" must not be empty');
    if (inputs.length > limits.maxBatchInputs) {
      throw new InvalidInput(`"inputs" has ${inputs.length} items; at most ${limits.maxBatchInputs} are allowed per request`, 'too_many_inputs');
    }
    return { inputs: inputs.map((item, i) => parseImage(item, `inputs[${i}]`)), batch: true };
  }
  if (!('pixels' in record) && !('image' in record)) throw new InvalidInput('missing field "pixels" or "image" (or "inputs" for a batch)');
  if ('pixels' in record && 'image' in record) throw new InvalidInput('send either "pixels" or "image", not both');
  if ('pixels' in record) return { inputs: [{ pixels: record.pixels, field: 'pixels' }], batch: false };
  if (typeof record.image !== 'string') throw new InvalidInput('"image" must be a base64 PNG string or a data: URL');
  return { inputs: [{ png: decodeBase64Image(record.image, 'image'), field: 'image' }], batch: false };
}

/** Labels from the spec, or "0".."9"-style indices. */
function labelsFor(spec: ModelSpec, classes: number): string[] {
  const labels = spec.labels ?? [];
  return Array.from({ length: classes }, (_, i) => labels[i] ?? String(i));
}

class ImageClassificationPipeline extends OnnxPipeline implements Pipeline<ImageInput, Float32Array, Float32Array> {
  private readonly inputName: string;
  private readonly outputName: string;
  /** Dimensions after the batch one: [H*W], [H,W] or [1,H,W], whichever the graph declares. */
  private readonly rowDims: number[];
  /** Whether the graph already ends in a softmax (its output is named like probabilities). */
  private readonly outputsProbabilities: boolean;
  /** The class names, made once from the first output's width (not at every prediction). */
  private labels: string[] | undefined;

  constructor(
    private readonly spec: ModelSpec,
    session: OnnxSession,
    private readonly settings: ImageSettings,
    private readonly limits: ImageLimits = DEFAULT_IMAGE_LIMITS,
  ) {
    super(session);
    const { inputs, outputs } = session.describe();
    const input = inputs.find((i) => i.name === spec.inputs?.[0]?.name) ?? inputs[0];
    const output = outputs.find((o) => o.name === spec.outputs?.[0]?.name) ?? outputs[0];
    if (!input || !output) throw new Error(`model "${spec.name}": the graph needs one input and one output`);
    this.inputName = input.name;
    this.outputName = output.name;
    const pixels = settings.width * settings.height;
    const rank = input.shape.length;
    this.rowDims = rank === 4 ? [1, settings.height, settings.width] : rank === 3 ? [settings.height, settings.width] : [pixels];
    const fixed = input.shape.slice(1).filter((d) => d > 0);
    if (fixed.length === input.shape.length - 1 && fixed.reduce((a, b) => a * b, 1) !== pixels) {
      throw new Error(`model "${spec.name}": input "${input.name}" has shape [${input.shape.join(',')}] but preprocessing.image is ${settings.width}x${settings.height}`);
    }
    this.outputsProbabilities = /prob|softmax/i.test(output.name);
  }

  encode(input: ImageInput): Float32Array | Promise<Float32Array> {
    if ('pixels' in input) return checkPixels(input.pixels, input.field, this.settings);
    // Off the server thread (image-decoder.ts); the limits are checked here first, from the header.
    const { mean: _mean, std: _std, ...fit } = this.settings;
    return imageDecoder.decode(input.png, input.field, fit, this.limits);
  }

  /** Drift features as the digits training records them (src/training/digits.ts): mean pixel value, share of pixels > 0.5. */
  features(pixels: Float32Array): Record<string, number> {
    let sum = 0;
    let ink = 0;
    for (let i = 0; i < pixels.length; i++) {
      sum += pixels[i]!;
      if (pixels[i]! > 0.5) ink++;
    }
    return pixels.length > 0 ? { meanIntensity: sum / pixels.length, inkFraction: ink / pixels.length } : {};
  }

  async runBatch(batch: Float32Array[]): Promise<Float32Array[]> {
    const width = this.settings.width * this.settings.height;
    const data = new Float32Array(batch.length * width);
    batch.forEach((pixels, row) => data.set(pixels, row * width));
    const { mean, std } = this.settings;
    if (mean !== undefined && std !== undefined && std > 0) for (let i = 0; i < data.length; i++) data[i] = (data[i]! - mean) / std;
    const outputs = await this.session.run({ [this.inputName]: new Tensor('float32', data, [batch.length, ...this.rowDims]) });
    const result = outputs[this.outputName];
    if (!result) throw new Error(`the model returned no "${this.outputName}" output`);
    const classes = result.dims[1] ?? 1;
    const values = result.data as Float32Array;
    return batch.map((_, row) => values.slice(row * classes, (row + 1) * classes));
  }

  decode(raw: Float32Array): Prediction {
    const probabilities = this.outputsProbabilities ? Array.from(raw) : softmax(raw);
    if (this.labels?.length !== probabilities.length) this.labels = labelsFor(this.spec, probabilities.length);
    return topClass(probabilities, this.labels);
  }

  sampleInput(): ImageInput {
    return { pixels: new Float32Array(this.settings.width * this.settings.height), field: 'pixels' };
  }
}

export const imageClassification: TaskDefinition<ImageInput> = {
  name: 'image-classification',
  // parseRequest does not see the spec, so the pixel count is checked in encode (still before the queue).
  parseRequest: parseImageRequest,
  async load(spec, options) {
    if (!spec.onnx) throw new Error(`model "${spec.name}": image-classification needs an onnx runtime section`);
    const session = await loadOnnxSession(spec, options);
    return new ImageClassificationPipeline(spec, session, imageSettings(spec), options.imageLimits);
  },
};
