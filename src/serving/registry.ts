import { ModelNotFound, NotConfigured } from '../errors.js';
import { compareVersions, type ModelSource } from '../models/repository.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { ModelVersion, type ModelVersionOptions } from './model-version.js';
import { ALIASES, RoutingTable, type Alias } from './routing-table.js';

export interface ModelStatus {
  name: string;
  version: string;
  task: string;
  runtime: string;
  state: string;
  reason?: string;
  /** Whether this model must be ready for the server to be ready (local models are). */
  required: boolean;
}

export interface RegistryOptions extends ModelVersionOptions {
  /** The model `POST /predict` serves; defaults to `sentiment`, else the first model. */
  defaultModel?: string;
}

/** Every model version the server knows, by name and version, and which one answers by default. */
export class ModelRegistry {
  /** Per model: champion, challenger, canary weight, shadow (the router splits traffic by them). */
  readonly routing = new RoutingTable();
  private readonly models = new Map<string, Map<string, ModelVersion>>();
  private preferredDefault: string | undefined;
  /** Hub models being downloaded, and those that could not be. */
  private fetching = 0;
  private loading: Promise<void> = Promise.resolve();
  private readonly fetchFailures: { name: string; reason: string }[] = [];

  constructor(
    private readonly metrics: Metrics,
    private readonly logger: Logger,
    private readonly options: RegistryOptions = {},
  ) {
    this.preferredDefault = options.defaultModel;
  }

  /** Registers a version without loading it; throws if that name and version are taken. */
  add(source: ModelSource): ModelVersion {
    const { name, version } = source.spec;
    const versions = this.models.get(name) ?? new Map<string, ModelVersion>();
    if (versions.has(version)) throw new Error(`model "${name}" version "${version}" is defined twice (${source.dir})`);
    const model = new ModelVersion(source, { ...this.options, logger: this.logger }, this.metrics);
    versions.set(version, model);
    this.models.set(name, versions);
    return model;
  }

  /** Loads and warms up every registered version, one at a time (they share the cores). */
  async loadAll(): Promise<void> {
    // Calls queue behind each other so that a model is never loaded twice at once.
    this.loading = this.loading.then(() => this.loadPending());
    return this.loading;
  }

  private async loadPending(): Promise<void> {
    // All at once: each model loads on its own worker thread, so small models overlap their
    // start-up instead of queueing behind each other (measured: cold start 1.8 s -> see RESULTS).
    const pending = this.all().filter((model) => model.state === 'loading');
    await Promise.all(pending.map((model) => this.loadOne(model)));
    this.refreshLoadedGauge();
  }

  private async loadOne(model: ModelVersion): Promise<void> {
    try {
      await model.load();
      this.logger.info({ model: model.name, version: model.version, load_seconds: model.loadSeconds, ...(model.engine ? { engine: model.engine.reason } : {}) }, 'model ready');
    } catch (error) {
      // A remote model without a token is reported, not an error: the rest of the server serves on.
      if (error instanceof NotConfigured) this.logger.warn({ model: model.name, version: model.version, reason: model.reason }, 'model unavailable');
      else this.logger.error({ model: model.name, version: model.version, err: error }, 'model failed to load');
    }
  }

  /**
   * Registers models whose folders must be fetched first (hub downloads). Until they are in,
   * the server is not ready; if fetching fails, it stays not ready and says why.
   */
  async addWhenFetched(what: string, fetchSources: () => Promise<ModelSource[]>): Promise<void> {
    this.fetching++;
    try {
      for (const source of await fetchSources()) this.add(source);
    } catch (error) {
      this.fetchFailures.push({ name: what, reason: (error as Error).message });
      this.logger.error({ model: what, err: error }, 'model could not be fetched');
    } finally {
      this.fetching--;
    }
  }

  all(): ModelVersion[] {
    return [...this.models.values()].flatMap((versions) => [...versions.values()]);
  }

  names(): string[] {
    return [...this.models.keys()].sort();
  }

  versions(name: string): ModelVersion[] {
    const versions = this.models.get(name);
    // Empty while a first repository load of this name is still warming its versions up.
    if (!versions || versions.size === 0) throw new ModelNotFound(name);
    return [...versions.values()].sort((a, b) => compareVersions(a.version, b.version));
  }

  /**
   * A named version or alias (`champion`, `challenger`, `shadow`; a real version of that name
   * wins), or the champion: the pinned one, else the newest ready version (routing-table.ts).
   */
  get(name: string, version?: string): ModelVersion {
    const versions = this.versions(name);
    if (version === undefined) return this.routing.champion(name, versions);
    const found =
      versions.find((v) => v.version === version) ??
      ((ALIASES as readonly string[]).includes(version) ? this.routing.resolve(name, version as Alias, versions) : undefined);
    if (!found) throw new ModelNotFound(name, version);
    return found;
  }

  /** The model's version when it has exactly one (no routing can choose another), else undefined. */
  soleVersion(name: string): ModelVersion | undefined {
    const versions = this.models.get(name);
    return versions?.size === 1 ? versions.values().next().value : undefined;
  }

  has(name: string): boolean {
    return this.models.has(name);
  }

  get defaultModelName(): string | undefined {
    if (this.preferredDefault && this.models.has(this.preferredDefault)) return this.preferredDefault;
    if (this.models.has('sentiment')) return 'sentiment';
    return this.names()[0];
  }

  status(): ModelStatus[] {
    const loaded = this.all().map((m) => ({
      name: m.name,
      version: m.version,
      task: m.spec.task,
      runtime: m.spec.runtime,
      state: m.state,
      ...(m.reason ? { reason: m.reason } : {}),
      required: m.isLocal,
    }));
    const unfetched = this.fetchFailures.map((f) => ({
      name: f.name,
      version: '',
      task: 'unknown',
      runtime: 'onnx',
      state: 'failed',
      reason: f.reason,
      required: true,
    }));
    return [...loaded, ...unfetched];
  }

  /** Ready when every local model is; a remote model's outage is reported, not fatal. */
  get ready(): boolean {
    if (this.fetching > 0 || this.fetchFailures.length > 0) return false;
    // A version an operator unloaded on purpose (repository API) is not expected to answer.
    const required = this.all().filter((m) => m.isLocal && m.state !== 'unloaded');
    return required.length > 0 ? required.every((m) => m.state === 'ready') : this.all().some((m) => m.state === 'ready');
  }

  /**
   * (Re)loads a model from freshly read sources, for the repository API. A version whose
   * `unchanged(existing, source)` holds and that is ready stays as it is (so loading twice is
   * cheap); any other is loaded and warmed up first and only then swapped in, so a reload never
   * drops requests; the version it replaces is drained and released after. Versions no longer
   * among the sources are unloaded and forgotten. Returns the failures (the rest loaded).
   */
  async loadModel(
    name: string,
    sources: ModelSource[],
    unchanged: (existing: ModelVersion, source: ModelSource) => boolean,
  ): Promise<{ loaded: ModelVersion[]; failed: ModelVersion[] }> {
    const versions = this.models.get(name) ?? new Map<string, ModelVersion>();
    this.models.set(name, versions);
    const loaded: ModelVersion[] = [];
    const failed: ModelVersion[] = [];
    const wanted = new Set(sources.map((s) => s.spec.version));
    for (const source of sources) {
      const version = source.spec.version;
      const existing = versions.get(version);
      if (existing && existing.state === 'ready' && unchanged(existing, source)) {
        loaded.push(existing);
        continue;
      }
      const fresh = new ModelVersion({ ...source, spec: { ...source.spec, name } }, { ...this.options, logger: this.logger }, this.metrics);
      try {
        await fresh.load();
      } catch (error) {
        this.logger.error({ model: name, version, err: error }, 'model failed to load');
        failed.push(fresh);
        // A working version keeps serving; otherwise the failure is what the index shows.
        if (!existing || existing.state !== 'ready') versions.set(version, fresh);
        continue;
      }
      versions.set(version, fresh);
      loaded.push(fresh);
      this.logger.info({ model: name, version, load_seconds: fresh.loadSeconds, ...(fresh.engine ? { engine: fresh.engine.reason } : {}) }, existing ? 'model reloaded' : 'model ready');
      if (existing) {
        await existing.unload();
        // unload() cleared the gauges of this name and version, which now belong to `fresh`.
        this.metrics.modelReady.set({ model: name, version }, 1);
        this.metrics.modelRequired.set({ model: name, version }, fresh.isLocal ? 1 : 0);
        this.metrics.modelInfo.set({ model: name, version, task: fresh.spec.task, runtime: fresh.spec.runtime }, 1);
      }
    }
    for (const [version, model] of [...versions]) {
      if (wanted.has(version)) continue;
      await model.unload();
      versions.delete(version);
      this.logger.info({ model: name, version }, 'model version removed: no longer in the repository');
    }
    const cleared = this.routing.forgetMissing(name, [...versions.values()]);
    if (cleared.length > 0) this.logger.warn({ model: name, cleared }, 'routing: aliases of removed versions cleared');
    if (versions.size === 0) this.models.delete(name);
    this.refreshLoadedGauge();
    return { loaded, failed };
  }

  /** Unloads every version of a model: queued work finishes first. It stays listed, as unloaded. */
  async unloadModel(name: string): Promise<ModelVersion[]> {
    const versions = this.versions(name);
    await Promise.all(versions.filter((m) => m.state !== 'unloaded').map((m) => m.unload()));
    this.logger.info({ model: name }, 'model unloaded');
    this.refreshLoadedGauge();
    return versions;
  }

  async unloadAll(): Promise<void> {
    await Promise.all(this.all().map((m) => m.unload()));
    this.refreshLoadedGauge();
  }

  private refreshLoadedGauge(): void {
    const local = this.all().filter((m) => m.isLocal);
    this.metrics.localModelLoaded.set(local.length > 0 && local.every((m) => m.state === 'ready') ? 1 : 0);
  }
}
