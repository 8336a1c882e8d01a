import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { ModelNotFound, VigilError } from '../../errors.js';
import { readModelFolder, type ModelSource } from '../../models/repository.js';
import { SPEC_FILE } from '../../models/spec.js';
import type { ModelVersion } from '../../serving/model-version.js';
import type { ModelRegistry } from '../../serving/registry.js';

/**
 * The Open Inference Protocol's model repository extension (Triton's `model_repository`) over
 * the registry: where each model's folder is, whether its files changed since it was loaded,
 * and what the index says about each version. Operations run one at a time.
 */

/** Triton's state names, which repository clients (tritonclient) expect. */
export type RepositoryState = 'READY' | 'LOADING' | 'UNAVAILABLE' | 'UNLOADING';

export interface IndexEntry {
  name: string;
  version: string;
  state: RepositoryState;
  reason: string;
}

export class RepositoryError extends VigilError {
  constructor(message: string) {
    // The folder's content is at fault, not the request nor the server: 422 like MLServer.
    super(422, 'model_load_failed', message);
  }
}

/** Where a model's versions are read from: the folder of numbered versions, or each version's own folder. */
interface ModelLocation {
  folders: string[];
}

/**
 * A version folder's identity: its spec and every file's size and modification time. Loading a
 * model whose fingerprint did not change keeps the running version (load is idempotent).
 */
export function folderFingerprint(dir: string): string {
  const entries: string[] = [];
  const walk = (folder: string, depth: number) => {
    if (depth > 3) return;
    for (const entry of readdirSync(folder, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const full = path.join(folder, entry.name);
      if (entry.isDirectory()) walk(full, depth + 1);
      else if (entry.isFile()) {
        const stat = statSync(full);
        entries.push(`${path.relative(dir, full)}:${stat.size}:${stat.mtimeMs}`);
      }
    }
  };
  if (existsSync(dir)) walk(dir, 0);
  return entries.join('|');
}

export class ModelRepository {
  private readonly locations = new Map<string, ModelLocation>();
  private readonly fingerprints = new WeakMap<ModelVersion, string>();
  private queue: Promise<unknown> = Promise.resolve();

  /** Remembers where every model the server started with lives (call before models load). */
  constructor(private readonly registry: ModelRegistry) {
    for (const name of registry.names()) this.locate(name);
  }

  /**
   * Where a model's folders are: remembered from the first time the registry showed it (at
   * startup, or later for hub models, registered once downloaded), with each version's files'
   * fingerprint as they were then.
   */
  private locate(name: string): ModelLocation | undefined {
    const known = this.locations.get(name);
    if (known || !this.registry.has(name)) return known;
    const versions = this.registry.versions(name);
    const location = { folders: modelFolders(versions) };
    this.locations.set(name, location);
    for (const model of versions) this.fingerprints.set(model, folderFingerprint(model.dir));
    return location;
  }

  index(onlyReady: boolean): IndexEntry[] {
    return this.registry
      .all()
      .map((m) => ({ name: m.name, version: m.version, state: stateOf(m), reason: m.state === 'ready' ? '' : (m.reason ?? m.state) }))
      .filter((entry) => !onlyReady || entry.state === 'READY')
      .sort((a, b) => a.name.localeCompare(b.name) || a.version.localeCompare(b.version, undefined, { numeric: true }));
  }

  /** Re-reads the model's folder and loads what changed; idempotent. */
  load(name: string): Promise<IndexEntry[]> {
    return this.serialised(async () => {
      const location = this.locate(name);
      if (!location) throw new ModelNotFound(name);
      let sources: ModelSource[];
      try {
        sources = location.folders.flatMap((folder) => readModelFolder(folder, name));
      } catch (error) {
        throw new RepositoryError(`model "${name}" cannot be read from its folder: ${(error as Error).message}`);
      }
      const { loaded, failed } = await this.registry.loadModel(name, sources, (existing, source) =>
        existing.dir === source.dir && JSON.stringify(existing.spec) === JSON.stringify({ ...source.spec, name }) && this.fingerprints.get(existing) === folderFingerprint(source.dir),
      );
      for (const model of loaded) if (!this.fingerprints.has(model)) this.fingerprints.set(model, folderFingerprint(model.dir));
      if (failed.length > 0) {
        throw new RepositoryError(`model "${name}" failed to load: ${failed.map((m) => `version ${m.version}: ${m.reason ?? 'unknown error'}`).join('; ')}`);
      }
      return this.index(false).filter((e) => e.name === name);
    });
  }

  /** Drains and releases every version of the model; idempotent. */
  unload(name: string): Promise<IndexEntry[]> {
    return this.serialised(async () => {
      if (!this.registry.has(name)) {
        // Known but already forgotten (every version left the folder): nothing is loaded.
        if (this.locations.has(name)) return [];
        throw new ModelNotFound(name);
      }
      await this.registry.unloadModel(name);
      return this.index(false).filter((e) => e.name === name);
    });
  }

  /** One repository change at a time: two loads of one model must not race to swap it. */
  private serialised<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work, work);
    this.queue = run.catch(() => undefined);
    return run;
  }
}

function stateOf(model: ModelVersion): RepositoryState {
  switch (model.state) {
    case 'ready':
      return 'READY';
    case 'loading':
      return 'LOADING';
    default:
      return 'UNAVAILABLE';
  }
}

/**
 * Triton layout (`<model>/<version>/vigil.model.json`, version = folder name) when every version
 * sits in a folder named after it under one parent that is not itself a model folder; otherwise
 * each version's own folder (a single-version spec folder, a Hugging Face folder).
 */
function modelFolders(versions: ModelVersion[]): string[] {
  const parents = new Set(versions.map((v) => path.dirname(v.dir)));
  const [parent] = [...parents];
  const numbered =
    parents.size === 1 &&
    parent !== undefined &&
    versions.every((v) => path.basename(v.dir) === v.version) &&
    !existsSync(path.join(parent, SPEC_FILE)) &&
    !existsSync(path.join(parent, 'config.json'));
  return numbered ? [parent] : [...new Set(versions.map((v) => v.dir))];
}
