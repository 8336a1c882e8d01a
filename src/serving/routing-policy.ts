import { InvalidInput } from '../errors.js';

/**
 * How one model's unaddressed traffic (`/v1/models/{name}/predict`, `/predict`, `/v2/models/{name}/infer`)
 * is shared between its versions. Versions are held by name, never as loaded objects, so a
 * repository reload that swaps a version's engine keeps its aliases.
 */
export interface RoutingPolicy {
  /** Pinned champion; undefined: the newest ready version that is neither challenger nor shadow. */
  champion?: string;
  challenger?: string;
  /** Share of unaddressed requests (0..1) the challenger answers instead of the champion. */
  canaryWeight: number;
  /** A version that sees a copy of unaddressed requests; its answers are measured, never returned. */
  shadow?: string;
  /** Share of unaddressed requests (0..1) copied to the shadow. */
  shadowWeight: number;
}

export const DEFAULT_POLICY: Readonly<RoutingPolicy> = Object.freeze({ canaryWeight: 0, shadowWeight: 1 });

/** A change as the API and the config file spell it: a field left out keeps its value, `null` resets it. */
export interface RoutingChange {
  champion?: string | null;
  challenger?: string | null;
  canaryWeight?: number | null;
  shadow?: string | null;
  shadowWeight?: number | null;
}

/** The wire names (snake_case, like the rest of the JSON API), in the order error messages list them. */
export const ROUTING_FIELDS = ['champion', 'challenger', 'canary_weight', 'shadow', 'shadow_weight'] as const;

export class InvalidRouting extends InvalidInput {
  constructor(message: string) {
    super(message, 'invalid_routing');
  }
}

const VERSION_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

function versionField(raw: unknown, field: string): string | null {
  if (raw === null) return null;
  // A number is what people type for numbered folders ("champion": 2); versions are strings everywhere else.
  const value = typeof raw === 'number' && Number.isInteger(raw) && raw >= 0 ? String(raw) : raw;
  if (typeof value !== 'string' || !VERSION_PATTERN.test(value)) {
    throw new InvalidRouting(`"${field}" must be a version name such as "2" (or null to clear it), got ${JSON.stringify(raw)}`);
  }
  return value;
}

function fractionField(raw: unknown, field: string, meaning: string): number | null {
  if (raw === null) return null;
  if (typeof raw !== 'number' || !Number.isFinite(raw) || raw < 0 || raw > 1) {
    throw new InvalidRouting(`"${field}" must be a number from 0 to 1 (0.1 ${meaning} 10% of requests), got ${JSON.stringify(raw)}`);
  }
  return raw;
}

/**
 * Reads a routing object (admin API body, config file entry) and names the first bad field.
 * `where` prefixes field names in messages (`routing.spam.` for the config file).
 */
export function parseRoutingChange(raw: unknown, where = ''): RoutingChange {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new InvalidRouting(`${where ? `"${where.replace(/\.$/, '')}"` : 'the body'} must be a JSON object with any of ${ROUTING_FIELDS.join(', ')}`);
  }
  const record = raw as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (!(ROUTING_FIELDS as readonly string[]).includes(key)) {
      throw new InvalidRouting(`unknown field "${where}${key}": routing takes ${ROUTING_FIELDS.join(', ')}`);
    }
  }
  const change: RoutingChange = {};
  if ('champion' in record) change.champion = versionField(record.champion, `${where}champion`);
  if ('challenger' in record) change.challenger = versionField(record.challenger, `${where}challenger`);
  if ('canary_weight' in record) change.canaryWeight = fractionField(record.canary_weight, `${where}canary_weight`, 'sends');
  if ('shadow' in record) change.shadow = versionField(record.shadow, `${where}shadow`);
  if ('shadow_weight' in record) change.shadowWeight = fractionField(record.shadow_weight, `${where}shadow_weight`, 'copies');
  return change;
}

/** `base` with `change` applied (null resets a field to its default). */
export function applyRoutingChange(base: RoutingPolicy, change: RoutingChange): RoutingPolicy {
  const pick = <T>(value: T | null | undefined, current: T | undefined, fallback: T | undefined): T | undefined =>
    value === undefined ? current : value === null ? fallback : value;
  const policy: RoutingPolicy = {
    champion: pick(change.champion, base.champion, undefined),
    challenger: pick(change.challenger, base.challenger, undefined),
    canaryWeight: pick(change.canaryWeight, base.canaryWeight, DEFAULT_POLICY.canaryWeight)!,
    shadow: pick(change.shadow, base.shadow, undefined),
    shadowWeight: pick(change.shadowWeight, base.shadowWeight, DEFAULT_POLICY.shadowWeight)!,
  };
  return withoutUndefined(policy);
}

/** The policy as the API shows it: every field present, unset versions as null. */
export function routingPolicyJson(policy: RoutingPolicy) {
  return {
    champion: policy.champion ?? null,
    challenger: policy.challenger ?? null,
    canary_weight: policy.canaryWeight,
    shadow: policy.shadow ?? null,
    shadow_weight: policy.shadowWeight,
  };
}

function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
