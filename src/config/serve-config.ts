import { readFileSync } from 'node:fs';
import { Type, type Static, type TSchema } from 'typebox';
import { Value } from 'typebox/value';
import { ModelRef as ModelRefSchema, PACKAGE_ROOT, SETTINGS, type Setting, type SettingKey } from './settings.js';
import { InvalidStoreTarget, parseStoreTarget } from '../store/target.js';

export { PACKAGE_ROOT };

export const ModelRef = ModelRefSchema;
export type ModelRef = Static<typeof ModelRef>;

type Properties = { [K in SettingKey]: (typeof SETTINGS)[K]['schema'] };

function properties(): Properties {
  return Object.fromEntries(Object.entries(SETTINGS).map(([key, setting]) => [key, setting.schema])) as Properties;
}

/**
 * Everything `vigil serve` can be told, from a JSON file, the environment or flags (in rising
 * precedence): the config file's schema, derived from SETTINGS. A key it does not know is refused
 * (a typo must not be a silently ignored setting).
 */
export const ServeConfig = Type.Object(properties(), { additionalProperties: false });
export type ServeConfig = Static<typeof ServeConfig>;

const declared = Object.entries(SETTINGS) as [SettingKey, Setting<TSchema>][];

export const DEFAULT_SERVE_CONFIG: ServeConfig = Object.fromEntries(
  declared.filter(([, setting]) => setting.default !== undefined).map(([key, setting]) => [key, structuredClone(setting.default)]),
) as ServeConfig;

export class ConfigError extends Error {}

/** `name=path` or `path`. */
export function parseModelRef(raw: string): ModelRef {
  const eq = raw.indexOf('=');
  if (eq > 0 && !raw.slice(0, eq).includes('/')) return { name: raw.slice(0, eq), path: raw.slice(eq + 1) };
  return { path: raw };
}

const ROUTING_FLAGS = {
  champion: { form: 'NAME=VERSION (spam=1)', weight: undefined, needsWeight: false, meaning: '' },
  canary: { form: 'NAME=VERSION:WEIGHT (spam=2:0.1 sends 10% to version 2)', weight: 'canary_weight', needsWeight: true, meaning: 'sends' },
  shadow: { form: 'NAME=VERSION[:WEIGHT] (spam=3 copies every request to version 3)', weight: 'shadow_weight', needsWeight: false, meaning: 'copies' },
} as const;
export type RoutingFlag = keyof typeof ROUTING_FLAGS;

/**
 * `--champion spam=1`, `--canary spam=2:0.1`, `--shadow spam=3[:0.5]`: one model's routing entry.
 * The weight is checked here so the message names the flag; whether the version exists is
 * checked at startup against the model folders.
 */
export function parseRoutingFlag(flag: RoutingFlag, raw: string): { model: string; entry: Record<string, unknown> } {
  const { form, weight, needsWeight, meaning } = ROUTING_FLAGS[flag];
  const match = /^([^=:]+)=([^=:]+)(?::([^=:]+))?$/.exec(raw);
  const weightText = match?.[3];
  const weightValue = weightText === undefined ? undefined : Number(weightText);
  if (!match || (weightText !== undefined && (!weight || !Number.isFinite(weightValue))) || (needsWeight && weightText === undefined)) {
    throw new ConfigError(`--${flag} must be ${form}, got "${raw}"`);
  }
  const entry: Record<string, unknown> = { [flag === 'canary' ? 'challenger' : flag]: match[2] };
  if (weight && weightValue !== undefined) {
    if (weightValue < 0 || weightValue > 1) {
      throw new ConfigError(`--${flag} ${raw}: "${weight}" must be a number from 0 to 1 (0.1 ${meaning} 10% of requests), got ${weightValue}`);
    }
    entry[weight] = weightValue;
  }
  return { model: match[1]!, entry };
}

const TRUE_WORDS = ['1', 'true', 'on', 'yes'];
const FALSE_WORDS = ['0', 'false', 'off', 'no'];

/**
 * One setting's value from the text of a flag or an environment variable; `what` names the
 * source in errors (`--port`, `PORT`). Ranges are checked later, on the merged result.
 */
export function parseSettingText(setting: Setting<TSchema>, raw: string, what: string): unknown {
  switch (setting.kind) {
    case 'string':
      return raw;
    case 'integer': {
      const value = Number(raw);
      if (raw.trim() === '' || !Number.isInteger(value)) throw new ConfigError(`${what} must be a whole number, got "${raw}"`);
      return value;
    }
    case 'number': {
      const value = Number(raw);
      if (raw.trim() === '' || !Number.isFinite(value)) throw new ConfigError(`${what} must be a number, got "${raw}"`);
      return value;
    }
    case 'boolean':
    case 'on-off': {
      const word = raw.trim().toLowerCase();
      if (TRUE_WORDS.includes(word)) return true;
      if (FALSE_WORDS.includes(word)) return false;
      throw new ConfigError(`${what} must be on or off, got "${raw}"`);
    }
    case 'model-list':
      return raw.split(',').map((item) => item.trim()).filter(Boolean).map(parseModelRef);
    case 'string-list':
      return raw.split(',').map((item) => item.trim()).filter(Boolean);
    case 'routing':
      return routingFromText(raw, what);
  }
}

/**
 * VIGIL_ROUTING holds the config file's routing section as JSON, so a platform that sets
 * environment variables for every instance at once (Fly.io [env], a Kubernetes ConfigMap,
 * compose) can change the release plan of all replicas with one rolling deploy.
 */
function routingFromText(raw: string, what: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (error) {
    throw new ConfigError(`${what} must be JSON like {"spam": {"champion": "1", "challenger": "2", "canary_weight": 0.1}}: ${(error as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError(`${what} must be a JSON object keyed by model name, like {"spam": {"challenger": "2", "canary_weight": 0.1}}`);
  }
  return parsed as Record<string, unknown>;
}

/** Settings taken from the environment (PORT, HOST, VIGIL_*), for containers and systemd units. */
export function fromEnvironment(env: NodeJS.ProcessEnv): Partial<ServeConfig> {
  const config: Record<string, unknown> = {};
  for (const [key, setting] of declared) {
    if (!setting.env) continue;
    const raw = env[setting.env];
    if (raw === undefined || (raw === '' && !setting.emptyEnvIsValue)) continue;
    config[key] = parseSettingText(setting, raw, setting.env);
  }
  return config as Partial<ServeConfig>;
}

export function fromFile(file: string): Partial<ServeConfig> {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new ConfigError(`cannot read config file ${file}: ${(error as Error).message}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ConfigError(`${file}: must hold a JSON object`);
  const unknown = Object.keys(raw).filter((key) => !(key in SETTINGS));
  if (unknown.length > 0) {
    throw new ConfigError(`${file}: unknown setting${unknown.length > 1 ? 's' : ''} ${unknown.map((key) => `"${key}"`).join(', ')} (settings: ${Object.keys(SETTINGS).join(', ')})`);
  }
  return raw as Partial<ServeConfig>;
}

/** Merges the layers and checks the result, naming the first bad setting. */
export function resolveServeConfig(...layers: Partial<ServeConfig>[]): ServeConfig {
  const merged = Object.assign({}, structuredClone(DEFAULT_SERVE_CONFIG), ...layers.map(withoutUndefined)) as ServeConfig;
  const routing = mergeRouting(layers.map((layer) => layer.routing));
  if (routing) merged.routing = routing as ServeConfig['routing'];
  if (!Value.Check(ServeConfig, merged)) {
    const first = [...Value.Errors(ServeConfig, merged)][0] as { instancePath?: string; message?: string } | undefined;
    const where = first?.instancePath || '/';
    const routingEntry = /^\/routing\/([^/]+)$/.exec(where);
    if (routingEntry) throw new ConfigError(`invalid setting: "routing.${routingEntry[1]}" must be a JSON object with any of champion, challenger, canary_weight, shadow, shadow_weight`);
    throw new ConfigError(`invalid setting ${where}: ${first?.message ?? 'unknown error'}`);
  }
  if (merged.requestTimeoutMs > 0 && merged.headersTimeoutMs > merged.requestTimeoutMs) {
    throw new ConfigError(`invalid setting: headersTimeoutMs (${merged.headersTimeoutMs}) must not exceed requestTimeoutMs (${merged.requestTimeoutMs}): the headers are part of the request`);
  }
  try {
    // A typo (mysql://, postgres:/host) must stop the start, not become a SQLite file named after it.
    parseStoreTarget(merged.predictionLog);
  } catch (error) {
    if (error instanceof InvalidStoreTarget) throw new ConfigError(`invalid setting: ${error.message}`);
    throw error;
  }
  return merged;
}

/**
 * Routing merges model by model and field by field, so `--canary spam=2:0.1` changes the canary
 * of a config file's spam entry without dropping its shadow.
 */
function mergeRouting(layers: (Record<string, unknown> | undefined)[]): Record<string, unknown> | undefined {
  const present = layers.filter((layer) => layer !== undefined);
  if (present.length === 0) return undefined;
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  const merged: Record<string, unknown> = {};
  for (const layer of present) {
    if (!isObject(layer)) return layer; // not an object: Value.Check names it
    for (const [model, entry] of Object.entries(layer)) {
      const before = merged[model];
      merged[model] = isObject(before) && isObject(entry) ? { ...before, ...entry } : entry;
    }
  }
  return merged;
}

function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
