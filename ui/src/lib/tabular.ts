/**
 * Reads a tabular model's input description from its /v1/models/{name} answer. The spec format
 * for tabular features was still settling when this was written, so the likely places are all
 * tried: top-level `features`, `preprocessing.features`, or `signature.inputs` names, each
 * feature either a name or `{name, unit, description, ...}`; an example row from `example`,
 * `examples[0]` or `preprocessing.example`.
 */

export interface FeatureField {
  name: string;
  unit?: string;
  description?: string;
  min?: number;
  max?: number;
  /** The value the form starts with when the spec gives no example (e.g. the training mean). */
  typical?: number;
}

export interface TabularDescription {
  features: FeatureField[];
  example: Record<string, number>;
  target?: string;
  unit?: string;
  description?: string;
}

const record = (value: unknown): Record<string, unknown> | undefined =>
  value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
const text = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);
const num = (value: unknown): number | undefined => (typeof value === 'number' && Number.isFinite(value) ? value : undefined);

function featureFrom(raw: unknown): FeatureField | undefined {
  if (typeof raw === 'string') return { name: raw };
  const r = record(raw);
  const name = text(r?.name);
  if (!r || !name) return undefined;
  return {
    name,
    unit: text(r.unit),
    description: text(r.description) ?? text(r.label),
    min: num(r.min),
    max: num(r.max),
    typical: num(r.example) ?? num(r.mean) ?? num(r.median) ?? num(r.default),
  };
}

function exampleFrom(raw: unknown): Record<string, number> | undefined {
  const candidate = Array.isArray(raw) ? raw[0] : raw;
  const r = record(candidate);
  const features = record(r?.features) ?? r;
  if (!features) return undefined;
  const out: Record<string, number> = {};
  for (const [key, value] of Object.entries(features)) if (num(value) !== undefined) out[key] = value as number;
  return Object.keys(out).length > 0 ? out : undefined;
}

export function describeTabular(model: Record<string, unknown>): TabularDescription {
  const preprocessing = record(model.preprocessing);
  const signature = record(model.signature);
  const rawFeatures =
    (Array.isArray(model.features) && model.features) ||
    (Array.isArray(preprocessing?.features) && preprocessing.features) ||
    (Array.isArray(signature?.inputs) && signature.inputs.length > 1 && signature.inputs) ||
    [];
  const features = (rawFeatures as unknown[]).map(featureFrom).filter((f): f is FeatureField => f !== undefined);
  const examples = model.examples ?? model.example ?? preprocessing?.example ?? preprocessing?.examples;
  const example = exampleFrom(examples) ?? {};
  const target = record(model.target) ?? record(preprocessing?.target);
  return {
    features,
    example,
    target: text(model.target) ?? text(target?.name) ?? text(preprocessing?.target),
    unit: text(model.unit) ?? text(target?.unit),
    description: text(target?.description),
  };
}
