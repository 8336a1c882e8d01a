import { InvalidInput } from '../errors.js';
import type { ModelSpec } from '../models/spec.js';
import { type OnnxSession, Tensor } from '../runtimes/onnx/session.js';
import { loadOnnxSession, OnnxPipeline } from './onnx-session-loader.js';
import type { ParsedRequest, Pipeline, Prediction, RequestLimits, TaskDefinition } from './types.js';

/**
 * Tabular regression (air quality): named numeric features in, one number out. The spec's
 * `preprocessing.features` fixes the order the graph expects (list order, or each feature's
 * `index`) and each feature's unit. Standardisation: when `preprocessing.standardization.inGraph`
 * is true the graph does it and the server sends raw readings (the listed mean/std are then
 * documentation); otherwise a feature with `mean` and `std` is standardised here, and a target
 * with `mean` and `std` is un-standardised after.
 */

export interface FeatureSpec {
  name: string;
  unit?: string;
  description?: string;
  mean?: number;
  std?: number;
}

export interface TargetSpec {
  name: string;
  unit?: string;
  description?: string;
  mean?: number;
  std?: number;
}

export interface TabularSettings {
  features: FeatureSpec[];
  target: TargetSpec;
  /** The server standardises with the listed mean/std (false when the graph does it itself). */
  standardize: boolean;
}

/** One row as the request gave it: feature name -> value, checked against the spec in `encode`. */
export interface TabularInput {
  features: Record<string, unknown>;
  /** Names the row in errors: `features` or `rows[3]`. */
  field: string;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Reads `preprocessing.features` and `preprocessing.target`; throws naming the bad entry (a spec bug, caught at load). */
export function tabularSettings(spec: ModelSpec): TabularSettings {
  const pre = (spec.preprocessing ?? {}) as Record<string, unknown>;
  const rawFeatures = pre.features;
  if (!Array.isArray(rawFeatures) || rawFeatures.length === 0) {
    throw new Error(`model "${spec.name}": tabular-regression needs preprocessing.features, a non-empty array of {name, unit}`);
  }
  const numberOrUndefined = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
  const column = (raw: unknown, where: string): FeatureSpec => {
    // A bare string is a feature with only a name.
    const entry = typeof raw === 'string' ? { name: raw } : raw;
    if (!isObject(entry) || typeof entry.name !== 'string' || entry.name === '') throw new Error(`model "${spec.name}": ${where} needs a "name"`);
    const std = numberOrUndefined(entry.std);
    return {
      name: entry.name,
      unit: typeof entry.unit === 'string' ? entry.unit : undefined,
      description: typeof entry.description === 'string' ? entry.description : undefined,
      mean: numberOrUndefined(entry.mean),
      // A zero std would divide by zero; such a column carries no information anyway.
      std: std !== undefined && std > 0 ? std : undefined,
    };
  };
  const indexOf = (raw: unknown, position: number) => (isObject(raw) && Number.isInteger(raw.index) ? (raw.index as number) : position);
  const features = rawFeatures
    .map((f, i) => ({ feature: column(f, `preprocessing.features[${i}]`), index: indexOf(f, i) }))
    .sort((a, b) => a.index - b.index)
    .map((f) => f.feature);
  const names = new Set<string>();
  for (const f of features) {
    if (names.has(f.name)) throw new Error(`model "${spec.name}": feature "${f.name}" is listed twice`);
    names.add(f.name);
  }
  const target = pre.target === undefined ? { name: 'value' } : column(pre.target, 'preprocessing.target');
  const standardization = isObject(pre.standardization) ? pre.standardization : {};
  return { features, target, standardize: standardization.inGraph !== true };
}

function parseRow(value: unknown, field: string): TabularInput {
  if (!isObject(value)) throw new InvalidInput(`"${field}" must be an object of feature name -> number`);
  return { features: value, field };
}

export function parseTabularRequest(body: unknown, limits: RequestLimits): ParsedRequest<TabularInput> {
  if (!isObject(body)) throw new InvalidInput('the body must be a JSON object with "features" (name -> number) or "rows" (an array of them)');
  if ('features' in body && 'rows' in body) throw new InvalidInput('send either "features" or "rows", not both');
  if ('rows' in body) {
    const rows = body.rows;
    if (!Array.isArray(rows)) throw new InvalidInput('"rows" must be an array of objects of feature name -> number');
    if (rows.length === 0) throw new InvalidInput('"rows" must not be empty');
    if (rows.length > limits.maxBatchInputs) {
      throw new InvalidInput(`"rows" has ${rows.length} items; at most ${limits.maxBatchInputs} are allowed per request`, 'too_many_inputs');
    }
    return { inputs: rows.map((row, i) => parseRow(row, `rows[${i}]`)), batch: true };
  }
  if (!('features' in body)) throw new InvalidInput('missing field "features" (or "rows" for a batch)');
  return { inputs: [parseRow(body.features, 'features')], batch: false };
}

/**
 * One row in the graph's feature order, in the units the spec names. Every missing, unknown
 * and non-finite feature is named at once, so a client fixes its payload in one go.
 */
export function featureVector(input: TabularInput, settings: TabularSettings): Float32Array {
  const { features } = input;
  const specs = settings.features;
  // The usual row, checked in one pass: every feature a finite number, and no other key (as
  // many keys as features, all of them found). Anything else is explained by invalidRow.
  if (Object.keys(features).length === specs.length) {
    const row = new Float32Array(specs.length);
    let valid = true;
    for (let i = 0; i < specs.length && valid; i++) {
      const f = specs[i]!;
      const v = features[f.name];
      if (typeof v !== 'number' || !Number.isFinite(v)) valid = false;
      else row[i] = settings.standardize && f.mean !== undefined && f.std !== undefined ? (v - f.mean) / f.std : v;
    }
    if (valid) return row;
  }
  throw invalidRow(input, settings);
}

/** What is wrong with a row featureVector refused: every missing, unknown and non-finite feature. */
function invalidRow(input: TabularInput, settings: TabularSettings): InvalidInput {
  const { features, field } = input;
  const known = new Set(settings.features.map((f) => f.name));
  const missing = settings.features.filter((f) => !(f.name in features)).map((f) => f.name);
  const unknown = Object.keys(features).filter((name) => !known.has(name));
  const notNumbers = settings.features
    .filter((f) => f.name in features && (typeof features[f.name] !== 'number' || !Number.isFinite(features[f.name])))
    .map((f) => f.name);
  const problems: string[] = [];
  const list = (names: string[]) => names.map((n) => `"${n}"`).join(', ');
  if (missing.length > 0) problems.push(`missing feature${missing.length > 1 ? 's' : ''} ${list(missing)}`);
  if (unknown.length > 0) problems.push(`unknown feature${unknown.length > 1 ? 's' : ''} ${list(unknown)}`);
  if (notNumbers.length > 0) problems.push(notNumbers.length > 1 ? `features ${list(notNumbers)} must be finite numbers` : `feature ${list(notNumbers)} must be a finite number`);
  if (problems.length === 0) problems.push('not a row of finite numbers');
  return new InvalidInput(`"${field}": ${problems.join('; ')} (expected: ${settings.features.map((f) => (f.unit ? `${f.name} [${f.unit}]` : f.name)).join(', ')})`);
}

/** Values of regression predictions, per model version: the distribution drift shows in. */
class TabularRegressionPipeline extends OnnxPipeline implements Pipeline<TabularInput, Float32Array, number> {
  private readonly inputName: string;
  private readonly outputName: string;

  constructor(
    spec: ModelSpec,
    session: OnnxSession,
    private readonly settings: TabularSettings,
  ) {
    super(session);
    const { inputs, outputs } = session.describe();
    const input = inputs.find((i) => i.name === spec.inputs?.[0]?.name) ?? inputs[0];
    const output = outputs.find((o) => o.name === spec.outputs?.[0]?.name) ?? outputs[0];
    if (!input || !output) throw new Error(`model "${spec.name}": the graph needs one input and one output`);
    const width = input.shape[1];
    if (width !== undefined && width > 0 && width !== settings.features.length) {
      throw new Error(`model "${spec.name}": input "${input.name}" takes ${width} features but preprocessing.features lists ${settings.features.length}`);
    }
    this.inputName = input.name;
    this.outputName = output.name;
  }

  encode(input: TabularInput): Float32Array {
    return featureVector(input, this.settings);
  }

  /**
   * Drift features: each named input at its raw value, as the spec's reference histograms record
   * them. The row itself, not a copy: encode() has checked every feature the model reads, and
   * drift reads only its reference's names and bins only finite numbers.
   */
  features(_encoded: Float32Array, input: TabularInput): Readonly<Record<string, unknown>> {
    return input.features;
  }

  async runBatch(batch: Float32Array[]): Promise<number[]> {
    const width = this.settings.features.length;
    const data = new Float32Array(batch.length * width);
    batch.forEach((row, i) => data.set(row, i * width));
    const outputs = await this.session.run({ [this.inputName]: new Tensor('float32', data, [batch.length, width]) });
    const result = outputs[this.outputName];
    if (!result) throw new Error(`the model returned no "${this.outputName}" output`);
    // [N] or [N,1]: either way one number per row; a wider output keeps its first column.
    const perRow = result.data.length / batch.length;
    const values = result.data as Float32Array;
    return batch.map((_, i) => values[i * perRow]!);
  }

  decode(raw: number): Prediction {
    const { target } = this.settings;
    const value = this.settings.standardize && target.mean !== undefined && target.std !== undefined ? raw * target.std + target.mean : raw;
    return { value, unit: target.unit, target: target.name };
  }

  sampleInput(): TabularInput {
    // Each feature at its training mean (or 0): a typical row.
    return { features: Object.fromEntries(this.settings.features.map((f) => [f.name, f.mean ?? 0])), field: 'features' };
  }
}

export const tabularRegression: TaskDefinition<TabularInput> = {
  name: 'tabular-regression',
  // parseRequest does not see the spec, so feature names are checked in encode (still before the queue).
  parseRequest: parseTabularRequest,
  async load(spec, options) {
    if (!spec.onnx) throw new Error(`model "${spec.name}": tabular-regression needs an onnx runtime section`);
    const settings = tabularSettings(spec);
    const session = await loadOnnxSession(spec, options);
    return new TabularRegressionPipeline(spec, session, settings);
  },
};
