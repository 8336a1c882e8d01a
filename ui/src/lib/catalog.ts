import { ApiError, getJson } from './api.js';
import type { ModelInfo, ModelsResponse, ReadyResponse } from './types.js';

/**
 * What the server has loaded, kept fresh: /v1/models (what each model is) and /ready (whether
 * the server takes traffic). The header and every tab's availability read this one snapshot.
 */
export interface CatalogSnapshot {
  /** False until the first answer (or failure) arrives. */
  loaded: boolean;
  /** The server answered at all. */
  reachable: boolean;
  ready: boolean;
  readyReason?: string;
  defaultModel?: string;
  models: ModelInfo[];
  error?: string;
}

type Listener = (snapshot: CatalogSnapshot) => void;

export class Catalog {
  private snapshot: CatalogSnapshot = { loaded: false, reachable: false, ready: false, models: [] };
  private readonly listeners = new Set<Listener>();
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly intervalMs = 10_000) {}

  get current(): CatalogSnapshot {
    return this.snapshot;
  }

  subscribe(listener: Listener): void {
    this.listeners.add(listener);
    listener(this.snapshot);
  }

  model(name: string): ModelInfo | undefined {
    return this.snapshot.models.find((m) => m.name === name);
  }

  start(): void {
    // A background browser tab stops polling (its requests would show up in the server's own
    // traffic charts for nobody's benefit) and catches up as soon as it is looked at again.
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'visible') void this.refresh();
      else clearTimeout(this.timer);
    });
    void this.refresh();
  }

  async refresh(): Promise<void> {
    clearTimeout(this.timer);
    try {
      const [models, ready] = await Promise.all([
        getJson<ModelsResponse>('/v1/models'),
        getJson<ReadyResponse>('/ready', { acceptStatus: [503] }),
      ]);
      // /ready knows a model's state a little sooner during start-up; prefer it when both answer.
      const states = new Map(ready.models.map((m) => [`${m.name}@${m.version}`, m]));
      this.snapshot = {
        loaded: true,
        reachable: true,
        ready: ready.ready,
        readyReason: ready.reason,
        defaultModel: models.default,
        models: models.models.map((m) => {
          const status = states.get(`${m.name}@${m.version}`);
          return status ? { ...m, state: status.state, ...(status.reason ? { reason: status.reason } : {}) } : m;
        }),
      };
    } catch (error) {
      this.snapshot = {
        ...this.snapshot,
        loaded: true,
        reachable: !(error instanceof ApiError && error.status === 0),
        ready: false,
        error: (error as Error).message,
      };
    }
    this.listeners.forEach((listener) => listener(this.snapshot));
    // Poll faster while something is still loading, so the header turns green promptly.
    const loading = !this.snapshot.ready || this.snapshot.models.some((m) => m.state === 'loading');
    if (document.visibilityState === 'hidden') return;
    this.timer = setTimeout(() => void this.refresh(), loading ? Math.min(1500, this.intervalMs) : this.intervalMs);
  }
}
