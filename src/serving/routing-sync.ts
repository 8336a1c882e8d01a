import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import type pg from 'pg';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Logger } from '../observability/logger.js';
import { createPool, describeError, loadPg, migrate, passwordFromEnvironment, type PoolLike } from '../store/postgres.js';
import { applyRoutingChange, DEFAULT_POLICY, parseRoutingChange, routingPolicyJson, type RoutingPolicy } from './routing-policy.js';
import type { RoutableVersion, RoutingEntry, RoutingTable } from './routing-table.js';

/**
 * Routing state shared by a fleet through PostgreSQL. A runtime change on any replica (PUT/PATCH
 * .../routing, promote, rollback) is written to `vigil_routing` (one row per model, a revision
 * from one sequence) and announced with NOTIFY; every replica LISTENs, reads the row and adopts
 * it, and also polls the revisions every `pollMs` in case a notification was missed (a
 * connection that dropped). Rows survive restarts: at start-up they win over the configuration
 * for the models they name (the configuration stays the source for the others, and for a fleet
 * without PostgreSQL). Last writer wins: two replicas changing one model at once both end on the
 * row with the higher revision.
 *
 * `vigil_routing_fingerprint{model}` (every replica, with or without PostgreSQL) is a number
 * derived from the policy in force; replicas that disagree show different values, which the
 * RoutingStateDiverged alert counts.
 */

/** What the sync needs from the model registry (ModelRegistry fits). */
export interface RoutingHost {
  readonly routing: RoutingTable;
  versions(name: string): RoutableVersion[];
  has(name: string): boolean;
  names(): string[];
}

export interface RoutingSyncOptions {
  url: string;
  host: RoutingHost;
  registry: Registry;
  logger: Logger;
  /** Safety net for missed notifications (default 2000 ms). */
  pollMs?: number;
  replica?: string;
  env?: NodeJS.ProcessEnv;
}

const CHANNEL = 'vigil_routing';

interface StoredEntry {
  policy: ReturnType<typeof routingPolicyJson>;
  previous_champion: string | null;
}

/** 48 bits of the SHA-256 of the policy as the API spells it: exact in a float64 gauge. */
export function routingFingerprint(policy: RoutingPolicy): number {
  const digest = createHash('sha256').update(JSON.stringify(routingPolicyJson(policy))).digest('hex');
  return Number.parseInt(digest.slice(0, 12), 16);
}

/** The fingerprint gauge, for every served model: on every replica, shared state or not. */
export function registerRoutingFingerprint(registry: Registry, host: RoutingHost): void {
  new Gauge({
    name: 'vigil_routing_fingerprint',
    help: 'A number derived from the routing policy in force for the model (champion, challenger, weights, shadow): replicas that agree export the same value.',
    labelNames: ['model'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const model of host.names()) this.set({ model }, routingFingerprint(host.routing.entry(model).policy));
    },
  });
}

function entryFromRow(entry: StoredEntry, updatedAt: number): RoutingEntry {
  const policy = applyRoutingChange(DEFAULT_POLICY, parseRoutingChange(entry.policy, 'vigil_routing.entry.policy.'));
  const out: RoutingEntry = { policy, updatedAt };
  if (entry.previous_champion) out.previousChampion = entry.previous_champion;
  return out;
}

export class RoutingSync {
  private readonly pool: PoolLike;
  private listener: pg.Client | undefined;
  private readonly applied = new Map<string, number>();
  /** Revisions that could not be adopted here (a version this replica lacks): warned once each. */
  private readonly refused = new Map<string, number>();
  /** Local changes not yet written (the database was away): retried on every poll. */
  private readonly unpublished = new Map<string, RoutingEntry>();
  private pollTimer: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private stopListening: (() => void) | undefined;
  private closed = false;
  private started: Promise<void> | undefined;
  private readonly errors: Counter<'operation'>;
  private readonly revision: Gauge<'model'>;
  private readonly up: Gauge;
  private readonly replica: string;
  private readonly logger: Logger;

  constructor(private readonly options: RoutingSyncOptions) {
    this.logger = options.logger;
    this.replica = options.replica ?? hostname();
    this.pool = createPool({ url: options.url, env: options.env, max: 2, applicationName: 'vigil routing' });
    this.errors = new Counter({
      name: 'vigil_routing_sync_errors_total',
      help: 'Failures to read or write the shared routing state in PostgreSQL, by operation (publish, poll, listen, adopt).',
      labelNames: ['operation'] as const,
      registers: [options.registry],
    });
    this.revision = new Gauge({
      name: 'vigil_routing_revision',
      help: "Revision of the shared routing row this replica applied for the model (0: none yet, the configuration's routing).",
      labelNames: ['model'] as const,
      registers: [options.registry],
    });
    this.up = new Gauge({
      name: 'vigil_routing_sync_up',
      help: 'Whether the shared routing state (PostgreSQL) answered the last poll: 1 or 0.',
      registers: [options.registry],
    });
  }

  /** Migrates, adopts the stored rows, listens and polls; retries in the background while the database is away. */
  start(): Promise<void> {
    this.started ??= (async () => {
      this.stopListening = this.options.host.routing.onChange((model, entry) => void this.publish(model, entry));
      for (let delay = 250; !this.closed; delay = Math.min(delay * 2, 5000)) {
        try {
          await migrate(this.pool);
          await this.poll();
          break;
        } catch (error) {
          this.failed('poll', error);
          await new Promise((resolve) => setTimeout(resolve, delay).unref());
        }
      }
      if (this.closed) return;
      void this.listen();
      this.pollTimer = setInterval(() => void this.poll().catch((error: unknown) => this.failed('poll', error)), this.options.pollMs ?? 2000);
      this.pollTimer.unref();
    })();
    return this.started;
  }

  private failed(operation: string, error: unknown): void {
    this.errors.inc({ operation });
    if (operation === 'poll') this.up.set(0);
    this.logger.warn({ operation, error: describeError(error, this.options.url) }, 'shared routing state: PostgreSQL failed');
  }

  /** Writes a local change as the model's new row and announces it; kept for a retry if the database is away. */
  async publish(model: string, entry: RoutingEntry): Promise<void> {
    if (this.closed) return;
    const stored: StoredEntry = { policy: routingPolicyJson(entry.policy), previous_champion: entry.previousChampion ?? null };
    try {
      const client = await this.pool.connect();
      try {
        await client.query('BEGIN');
        const { rows } = await client.query<{ revision: string }>(
          `INSERT INTO vigil_routing (model, entry, revision, updated_at, updated_by) VALUES ($1, $2, nextval('vigil_routing_revision'), $3, $4)
           ON CONFLICT (model) DO UPDATE SET entry = EXCLUDED.entry, revision = EXCLUDED.revision, updated_at = EXCLUDED.updated_at, updated_by = EXCLUDED.updated_by
           RETURNING revision`,
          [model, JSON.stringify(stored), Math.round(entry.updatedAt ?? Date.now()), this.replica],
        );
        // Delivered to every listener when the transaction commits, not before.
        await client.query('SELECT pg_notify($1, $2)', [CHANNEL, model]);
        await client.query('COMMIT');
        const revision = Number(rows[0]!.revision);
        this.applied.set(model, Math.max(revision, this.applied.get(model) ?? 0));
        this.revision.set({ model }, this.applied.get(model)!);
        this.unpublished.delete(model);
        this.logger.info({ model, revision }, 'routing change shared with the fleet');
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      } finally {
        client.release();
      }
    } catch (error) {
      this.unpublished.set(model, entry);
      this.failed('publish', error);
    }
  }

  /** Publishes what is waiting, then adopts every row with a revision newer than the one applied here. */
  async poll(models?: string[]): Promise<void> {
    for (const [model, entry] of [...this.unpublished]) await this.publish(model, entry);
    const { rows } = await this.pool.query<{ model: string; entry: StoredEntry; revision: string; updated_at: string; updated_by: string | null }>(
      models ? 'SELECT model, entry, revision, updated_at, updated_by FROM vigil_routing WHERE model = ANY($1)' : 'SELECT model, entry, revision, updated_at, updated_by FROM vigil_routing',
      models ? [models] : [],
    );
    this.up.set(1);
    for (const row of rows) {
      const revision = Number(row.revision);
      if (revision <= (this.applied.get(row.model) ?? 0) || this.unpublished.has(row.model)) continue;
      this.adopt(row.model, row.entry, revision, Number(row.updated_at), row.updated_by);
    }
  }

  private adopt(model: string, stored: StoredEntry, revision: number, updatedAt: number, by: string | null): void {
    const { host } = this.options;
    try {
      if (!host.has(model)) throw new Error(`no model "${model}" is served here`);
      const entry = host.routing.adopt(model, host.versions(model), entryFromRow(stored, updatedAt));
      this.applied.set(model, revision);
      this.revision.set({ model }, revision);
      this.refused.delete(model);
      const { versions: _versions, ...routing } = host.routing.describe(model, host.versions(model));
      this.logger.info({ model, revision, from: by, routing: { ...routing, updated_at: new Date(entry.updatedAt ?? updatedAt).toISOString() } }, 'routing adopted from the fleet');
    } catch (error) {
      if (this.refused.get(model) === revision) return;
      this.refused.set(model, revision);
      this.errors.inc({ operation: 'adopt' });
      this.logger.warn({ model, revision, from: by, error: (error as Error).message }, 'shared routing state not applied here: this replica keeps its routing (vigil_routing_fingerprint shows the split)');
    }
  }

  /** A dedicated connection for LISTEN; reconnects (and polls everything, for what it missed) after a drop. */
  private async listen(): Promise<void> {
    if (this.closed) return;
    const password = passwordFromEnvironment(this.options.url, this.options.env);
    const url = new URL(this.options.url);
    if (password !== undefined) url.password = encodeURIComponent(password);
    const driver = await loadPg();
    const client = new driver.Client({ connectionString: url.toString(), application_name: 'vigil routing listener', connectionTimeoutMillis: 3000 });
    const retry = (error?: unknown) => {
      if (error) this.failed('listen', error);
      client.removeAllListeners();
      client.on('error', () => undefined);
      client.end().catch(() => undefined);
      if (this.listener === client) this.listener = undefined;
      if (this.closed || this.reconnectTimer) return;
      this.reconnectTimer = setTimeout(() => {
        this.reconnectTimer = undefined;
        void this.listen();
      }, 1000);
      this.reconnectTimer.unref();
    };
    client.on('error', retry);
    client.on('end', () => retry());
    client.on('notification', (message) => {
      if (message.channel !== CHANNEL || !message.payload) return;
      this.poll([message.payload]).catch((error: unknown) => this.failed('poll', error));
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANNEL}`);
      this.listener = client;
      await this.poll();
    } catch (error) {
      retry(error);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.stopListening?.();
    clearInterval(this.pollTimer);
    clearTimeout(this.reconnectTimer);
    const listener = this.listener;
    this.listener = undefined;
    if (listener) {
      listener.removeAllListeners();
      listener.on('error', () => undefined);
      await listener.end().catch(() => undefined);
    }
    await this.pool.end().catch(() => undefined);
  }
}
