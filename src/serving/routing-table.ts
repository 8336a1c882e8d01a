import { VigilError } from '../errors.js';
import { applyRoutingChange, DEFAULT_POLICY, InvalidRouting, routingPolicyJson, type RoutingChange, type RoutingPolicy } from './routing-policy.js';

/**
 * Each model's routing policy (champion, challenger, canary weight, shadow) and the release
 * operations on it: change, promote, roll back. Every change is checked against the model's
 * versions and installed as one new object, so a request sees the old policy or the new one,
 * never half of each; requests already running keep the version they were given.
 */

/** What the table needs to know about a version (a ModelVersion fits). */
export interface RoutableVersion {
  version: string;
  state: string;
  spec: { task: string };
}

export interface RoutingEntry {
  policy: RoutingPolicy;
  /** The champion before the last promotion or explicit champion change: what a rollback returns to. */
  previousChampion?: string;
  /** Unix ms of the last change; undefined while the model runs on its defaults. */
  updatedAt?: number;
}

export type Alias = 'champion' | 'challenger' | 'shadow';
export const ALIASES: readonly Alias[] = ['champion', 'challenger', 'shadow'];

export class VersionNotFoundForRouting extends VigilError {
  constructor(field: string, model: string, version: string, versions: RoutableVersion[]) {
    super(404, 'version_not_found', `"${field}": model "${model}" has no version "${version}" (it has ${versions.map((v) => `"${v.version}"`).join(', ')})`);
  }
}

/** The request is well formed but the model's state forbids it now (409, like a failed precondition). */
export class RoutingConflict extends VigilError {
  constructor(code: 'version_not_ready' | 'no_challenger' | 'nothing_to_roll_back', message: string) {
    super(409, code, message);
  }
}

/**
 * The champion among `versions` (sorted oldest first): the pinned one, else the newest ready
 * version that is neither challenger nor shadow (those are being tried out, not trusted yet),
 * else the newest such version whatever its state (its 503 then says why).
 */
export function pickChampion<V extends RoutableVersion>(versions: V[], policy: RoutingPolicy): V {
  const pinned = policy.champion === undefined ? undefined : versions.find((v) => v.version === policy.champion);
  if (pinned) return pinned;
  const trusted = versions.filter((v) => v.version !== policy.challenger && v.version !== policy.shadow);
  const pool = trusted.length > 0 ? trusted : versions;
  const ready = pool.filter((v) => v.state === 'ready');
  return (ready.length > 0 ? ready : pool).at(-1)!;
}

export interface ChangeOptions {
  /** PUT: fields left out go back to their defaults. PATCH and the config file: they stay. */
  replace?: boolean;
  /**
   * The configuration, before anything is loaded: versions need not be ready yet, and the
   * champion it names replaces nothing a rollback should return to. At runtime a new champion
   * must already be ready.
   */
  atStartup?: boolean;
}

/** Told of a change made on this replica at runtime (API), so it can be shared (routing-sync.ts). */
export type RoutingListener = (model: string, entry: RoutingEntry) => void;

export class RoutingTable {
  private readonly entries = new Map<string, RoutingEntry>();
  private readonly listeners = new Set<RoutingListener>();

  constructor(private readonly now: () => number = Date.now) {}

  entry(model: string): RoutingEntry {
    return this.entries.get(model) ?? { policy: DEFAULT_POLICY };
  }

  champion<V extends RoutableVersion>(model: string, versions: V[]): V {
    return pickChampion(versions, this.entry(model).policy);
  }

  /** The version an alias names, or undefined while that alias is unset. */
  resolve<V extends RoutableVersion>(model: string, alias: Alias, versions: V[]): V | undefined {
    if (alias === 'champion') return this.champion(model, versions);
    const version = this.entry(model).policy[alias];
    return version === undefined ? undefined : versions.find((v) => v.version === version);
  }

  /** Calls `listener` after each runtime change, promotion and rollback (not the configuration's, not adopted ones). */
  onChange(listener: RoutingListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private changed(model: string, entry: RoutingEntry): RoutingEntry {
    for (const listener of this.listeners) listener(model, entry);
    return entry;
  }

  /**
   * Installs an entry another replica made (shared routing state, routing-sync.ts): checked
   * against this replica's versions, which need not be ready (they may still be loading here).
   * Throws like `change` when a version it names is not served here.
   */
  adopt(model: string, versions: RoutableVersion[], entry: RoutingEntry): RoutingEntry {
    this.check(model, versions, entry.policy);
    const adopted: RoutingEntry = { policy: entry.policy, updatedAt: entry.updatedAt ?? this.now() };
    if (entry.previousChampion !== undefined && versions.some((v) => v.version === entry.previousChampion)) adopted.previousChampion = entry.previousChampion;
    this.entries.set(model, adopted);
    return adopted;
  }

  change(model: string, versions: RoutableVersion[], change: RoutingChange, options: ChangeOptions = {}): RoutingEntry {
    const current = this.entry(model);
    const policy = applyRoutingChange(options.replace ? DEFAULT_POLICY : current.policy, change);
    const before = pickChampion(versions, current.policy);
    const after = this.check(model, versions, policy);
    // Only a deliberate champion change is something to roll back to; an automatic champion
    // moving because a challenger was named is not.
    const championChanged = change.champion !== undefined && after.version !== before.version && !options.atStartup;
    if (championChanged) this.mustBeReady(model, 'champion', after);
    const installed = this.install(model, {
      policy,
      previousChampion: championChanged ? before.version : current.previousChampion,
    });
    return options.atStartup ? installed : this.changed(model, installed);
  }

  /** The challenger becomes the pinned champion; the old champion is kept for a rollback. */
  promote(model: string, versions: RoutableVersion[]): RoutingEntry {
    const { policy } = this.entry(model);
    if (policy.challenger === undefined) {
      throw new RoutingConflict('no_challenger', `model "${model}" has no challenger to promote: set one first (PUT /v1/models/${model}/routing {"challenger": "<version>"})`);
    }
    const challenger = this.find(model, versions, 'challenger', policy.challenger);
    this.mustBeReady(model, 'challenger', challenger);
    const before = pickChampion(versions, policy);
    const promoted: RoutingPolicy = { ...policy, champion: challenger.version, challenger: undefined, canaryWeight: 0 };
    if (promoted.shadow === challenger.version) delete promoted.shadow;
    this.check(model, versions, promoted);
    return this.changed(model, this.install(model, { policy: promoted, previousChampion: before.version }));
  }

  /**
   * All traffic back to the last known-good version: a running canary is stopped (its challenger
   * stays named, at weight 0); with no canary running, the last promotion is undone and the
   * demoted version becomes the challenger again. One step per call.
   */
  rollback(model: string, versions: RoutableVersion[]): { entry: RoutingEntry; undid: 'canary' | 'promotion' } {
    const current = this.entry(model);
    const { policy } = current;
    if (policy.canaryWeight > 0) {
      return { entry: this.changed(model, this.install(model, { ...current, policy: { ...policy, canaryWeight: 0 } })), undid: 'canary' };
    }
    if (current.previousChampion === undefined) {
      throw new RoutingConflict('nothing_to_roll_back', `model "${model}" has no canary running and no earlier champion to return to`);
    }
    const previous = this.find(model, versions, 'previous_champion', current.previousChampion);
    this.mustBeReady(model, 'previous_champion', previous);
    const demoted = pickChampion(versions, policy);
    const restored: RoutingPolicy = { ...policy, champion: previous.version, challenger: demoted.version, canaryWeight: 0 };
    if (restored.shadow === previous.version) delete restored.shadow;
    this.check(model, versions, restored);
    return { entry: this.changed(model, this.install(model, { policy: restored })), undid: 'promotion' };
  }

  /**
   * Forgets versions that left the repository: fields naming them are cleared (a cleared
   * challenger takes its canary weight with it). Returns the fields cleared, for the log.
   */
  forgetMissing(model: string, versions: RoutableVersion[]): string[] {
    const current = this.entries.get(model);
    if (!current) return [];
    const present = new Set(versions.map((v) => v.version));
    const policy = { ...current.policy };
    const cleared: string[] = [];
    for (const field of ['champion', 'challenger', 'shadow'] as const) {
      if (policy[field] !== undefined && !present.has(policy[field])) {
        cleared.push(`${field}=${policy[field]}`);
        delete policy[field];
      }
    }
    if (policy.challenger === undefined) policy.canaryWeight = 0;
    let previousChampion = current.previousChampion;
    if (previousChampion !== undefined && !present.has(previousChampion)) {
      cleared.push(`previous_champion=${previousChampion}`);
      previousChampion = undefined;
    }
    if (cleared.length > 0) this.install(model, { policy, previousChampion });
    return cleared;
  }

  /** What GET /v1/models/{name}/routing answers. */
  describe(model: string, versions: RoutableVersion[]) {
    const entry = this.entry(model);
    const champion = pickChampion(versions, entry.policy);
    const aliasesOf = (version: string) =>
      ALIASES.filter((alias) => (alias === 'champion' ? champion.version === version : entry.policy[alias] === version));
    return {
      model,
      ...routingPolicyJson(entry.policy),
      // The champion requests get now, pinned or not.
      champion: champion.version,
      champion_pinned: entry.policy.champion !== undefined && champion.version === entry.policy.champion,
      previous_champion: entry.previousChampion ?? null,
      updated_at: entry.updatedAt === undefined ? null : new Date(entry.updatedAt).toISOString(),
      versions: versions.map((v) => ({ version: v.version, state: v.state, aliases: aliasesOf(v.version) })),
    };
  }

  /** Every model with a routing entry, for the alias gauges. */
  models(): string[] {
    return [...this.entries.keys()];
  }

  /** Checks a policy against the versions; returns the champion it yields. */
  private check(model: string, versions: RoutableVersion[], policy: RoutingPolicy): RoutableVersion {
    for (const field of ['champion', 'challenger', 'shadow'] as const) {
      const version = policy[field];
      if (version !== undefined) this.find(model, versions, field, version);
    }
    if (policy.canaryWeight > 0 && policy.challenger === undefined) {
      throw new InvalidRouting(`"canary_weight" is ${policy.canaryWeight} but there is no "challenger": name the version that takes the canary traffic`);
    }
    const champion = pickChampion(versions, policy);
    for (const field of ['challenger', 'shadow'] as const) {
      const version = policy[field];
      if (version === undefined) continue;
      if (version === champion.version) {
        throw new InvalidRouting(`"${field}" must be another version than the champion ("${champion.version}")`);
      }
      const other = versions.find((v) => v.version === version)!;
      if (other.spec.task !== champion.spec.task) {
        throw new InvalidRouting(`"${field}": version "${version}" is a ${other.spec.task} model but the champion ("${champion.version}") is ${champion.spec.task}; both must take the same requests`);
      }
    }
    return champion;
  }

  private find(model: string, versions: RoutableVersion[], field: string, version: string): RoutableVersion {
    const found = versions.find((v) => v.version === version);
    if (!found) throw new VersionNotFoundForRouting(field, model, version, versions);
    return found;
  }

  private mustBeReady(model: string, field: string, version: RoutableVersion): void {
    if (version.state !== 'ready') {
      throw new RoutingConflict('version_not_ready', `"${field}": version "${version.version}" of model "${model}" is ${version.state}, not ready; it cannot take all the traffic`);
    }
  }

  private install(model: string, entry: Omit<RoutingEntry, 'updatedAt'>): RoutingEntry {
    const installed: RoutingEntry = { ...entry, updatedAt: this.now() };
    if (installed.previousChampion === undefined) delete installed.previousChampion;
    this.entries.set(model, installed);
    return installed;
  }
}
