import { ModelNotFound, VigilError } from '../errors.js';
import { compareNames, compareVersions, folderFingerprint, readModelFolder, type ModelSource } from '../models/repository.js';
import type { ModelVersion } from './model-version.js';
import type { ModelRegistry } from './registry.js';

/**
 * Model lifecycle at runtime: load (re-read a model's folder and swap in what changed), unload
 * (drain, then release) and the index of every version's state. Each version remembers where it
 * came from (ModelVersion.source: folder, fingerprint, hub id), so a reload reads the same
 * folder again and keeps every version whose files did not change. Operations run one at a time.
 * Protocol-neutral: the Open Inference Protocol's model repository extension (REST now, gRPC
 * next) is one caller.
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

/** Where a model is read from again: its versions' folders, and the hub id they were fetched as. */
interface ModelOrigin {
  folders: string[];
  hub?: string;
}

export class ModelLifecycle {
  /**
   * Origins of the models seen so far, kept after a reload finds no version left (the registry
   * then forgets the name), so that loading it again re-reads the same folder.
   */
  private readonly origins = new Map<string, ModelOrigin>();
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly registry: ModelRegistry) {}

  private originOf(name: string): ModelOrigin | undefined {
    if (this.registry.has(name)) {
      const versions = this.registry.versions(name);
      const origin = { folders: [...new Set(versions.map((v) => v.source.folder))], hub: versions.find((v) => v.source.hub)?.source.hub };
      this.origins.set(name, origin);
      return origin;
    }
    return this.origins.get(name);
  }

  index(onlyReady: boolean): IndexEntry[] {
    return this.registry
      .all()
      .map((m) => ({ name: m.name, version: m.version, state: stateOf(m), reason: m.state === 'ready' ? '' : (m.reason ?? m.state) }))
      .filter((entry) => !onlyReady || entry.state === 'READY')
      .sort((a, b) => compareNames(a.name, b.name) || compareVersions(a.version, b.version));
  }

  /** Re-reads the model's folder and loads what changed; idempotent. */
  load(name: string): Promise<IndexEntry[]> {
    return this.serialised(async () => {
      const origin = this.originOf(name);
      if (!origin) throw new ModelNotFound(name);
      let sources: ModelSource[];
      try {
        sources = origin.folders.flatMap((folder) => readModelFolder(folder, name)).map((s) => (origin.hub ? { ...s, hub: origin.hub } : s));
      } catch (error) {
        throw new RepositoryError(`model "${name}" cannot be read from its folder: ${(error as Error).message}`);
      }
      const { failed } = await this.registry.loadModel(name, sources, unchanged);
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
        if (this.origins.has(name)) return [];
        throw new ModelNotFound(name);
      }
      this.originOf(name);
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

/** Same folder, same spec, same files as when the running version was registered. */
function unchanged(existing: ModelVersion, source: ModelSource): boolean {
  return (
    existing.source.dir === source.dir &&
    JSON.stringify(existing.spec) === JSON.stringify({ ...source.spec, name: existing.name }) &&
    existing.source.fingerprint === folderFingerprint(source.dir)
  );
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
