import type pg from 'pg';
import { readSecretFile } from './secret-file.js';
import { redactUrl } from './target.js';

/**
 * The PostgreSQL connection every fleet feature shares (prediction log, routing state): one
 * pool per process, the password from the URL or the environment, and the schema migrated once
 * per database however many replicas start at the same moment.
 */

export const PASSWORD_ENV = 'VIGIL_PREDICTION_LOG_PASSWORD';
export const PASSWORD_FILE_ENV = 'VIGIL_PREDICTION_LOG_PASSWORD_FILE';

/**
 * The password, in this order: in the URL, VIGIL_PREDICTION_LOG_PASSWORD, the 0600 file named by
 * VIGIL_PREDICTION_LOG_PASSWORD_FILE, then whatever libpq's own PGPASSWORD says (pg reads it).
 */
export function passwordFromEnvironment(url: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (new URL(url).password !== '') return undefined;
  if (env[PASSWORD_ENV]) return env[PASSWORD_ENV];
  const file = env[PASSWORD_FILE_ENV]?.trim();
  if (file) return readSecretFile(file, PASSWORD_FILE_ENV);
  return undefined;
}

export interface PoolOptions {
  url: string;
  /** Connections at most (the prediction log's writer, lookups, retention, routing). */
  max?: number;
  applicationName?: string;
  env?: NodeJS.ProcessEnv;
}

/** What the stores use of a pool: pg.Pool's calls, created on first use. */
export interface PoolLike {
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>>;
  connect(): Promise<pg.PoolClient>;
  end(): Promise<void>;
}

/**
 * The pg module, loaded when a PostgreSQL feature first needs it: a server on SQLite (the
 * default) never pays for importing the driver at start-up.
 */
export async function loadPg(): Promise<typeof pg> {
  return (await import('pg')).default;
}

/**
 * A pool for the URL. The password is resolved now (a refused password file stops the start with
 * its reason); the driver is loaded and the pool built on the first query.
 */
export function createPool(options: PoolOptions): PoolLike {
  const password = passwordFromEnvironment(options.url, options.env);
  // pg lets the connection string win over a separate password field: the password goes into it.
  const url = new URL(options.url);
  if (password !== undefined) url.password = encodeURIComponent(password);
  let pool: Promise<pg.Pool> | undefined;
  const real = () =>
    (pool ??= loadPg().then((driver) => {
      const created = new driver.Pool({
        connectionString: url.toString(),
        max: options.max ?? 4,
        // A database that does not answer must not hold a lookup (or the writer) for long.
        connectionTimeoutMillis: 3000,
        idleTimeoutMillis: 30_000,
        application_name: options.applicationName ?? 'vigil',
        // Kept below the HTTP layer's patience: a feedback lookup fails fast instead of hanging.
        query_timeout: 10_000,
      });
      // An idle connection dropped by the server (restart, failover) is reported here; without a
      // listener the pool's 'error' event would crash the process. The next query reconnects.
      created.on('error', () => undefined);
      return created;
    }));
  return {
    query: async <R extends pg.QueryResultRow>(text: string, values?: unknown[]) => (await real()).query<R>(text, values),
    connect: async () => (await real()).connect(),
    end: async () => {
      if (pool) await (await pool).end();
    },
  };
}

/**
 * Errors that mean "the database is away for now" (retry later), as opposed to a statement
 * the database refuses (which a retry would not fix): connection errors from Node, SQLSTATE
 * class 08 (connection exception), 57P0x (shutting down, cannot connect now), 53xxx (out of
 * resources, too many connections) and 40001/40P01 (serialization failure, deadlock).
 */
export function isTransient(error: unknown): boolean {
  const e = error as { code?: string; message?: string } | undefined;
  const code = e?.code;
  if (typeof code === 'string') {
    if (/^(ECONN|ETIMEDOUT|EPIPE|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH)/.test(code)) return true;
    if (/^08|^57P0|^53|^40001$|^40P01$/.test(code)) return true;
    return false;
  }
  // pg's own client-side failures carry no code.
  return /timeout|terminated|Connection|connect|ended|closed/i.test(e?.message ?? '');
}

/** A message about a failed connection or statement, with no password in it. */
export function describeError(error: unknown, url: string): string {
  const message = (error as Error)?.message ?? String(error);
  const password = (() => {
    try {
      return decodeURIComponent(new URL(url).password);
    } catch {
      return '';
    }
  })();
  const clean = password ? message.split(password).join('***') : message;
  return `${clean} (${redactUrl(url)})`;
}

interface Migration {
  version: number;
  name: string;
  sql: string;
}

/**
 * The schema, one step per version; a step is never edited once released, a change is a new
 * step. Times are Unix milliseconds (bigint), as in the SQLite log, so rows compare alike.
 */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'prediction log',
    sql: `
CREATE TABLE vigil_predictions (
  id bigserial PRIMARY KEY,
  request_id text NOT NULL,
  idx integer NOT NULL,
  model text NOT NULL,
  version text NOT NULL,
  created_at bigint NOT NULL,
  label text,
  score double precision,
  value double precision,
  fallback_from text,
  fallback_reason text,
  input text,
  true_label text,
  true_value double precision,
  labelled_at bigint,
  shadow boolean NOT NULL DEFAULT false,
  replica text NOT NULL,
  replica_seq bigint NOT NULL
);
-- A batch retried after a connection dropped mid-commit must not land twice.
CREATE UNIQUE INDEX vigil_predictions_writer ON vigil_predictions (replica, replica_seq);
CREATE INDEX vigil_predictions_request ON vigil_predictions (request_id, idx);
CREATE INDEX vigil_predictions_created ON vigil_predictions (created_at);
CREATE INDEX vigil_predictions_labelled ON vigil_predictions (model, version, labelled_at) WHERE labelled_at IS NOT NULL;`,
  },
  {
    version: 2,
    name: 'routing state',
    sql: `
CREATE TABLE vigil_routing (
  model text PRIMARY KEY,
  entry jsonb NOT NULL,
  revision bigint NOT NULL,
  updated_at bigint NOT NULL,
  updated_by text
);
CREATE SEQUENCE vigil_routing_revision;`,
  },
];

/** Any constant works; this one is "vigil" in ASCII. Every replica takes the same lock. */
const MIGRATION_LOCK = 0x76696769;

/**
 * Applies the steps this database lacks, in one transaction under a transaction-level
 * advisory lock: replicas starting together queue on the lock, and the ones after the first
 * find nothing left to do. Returns the versions applied here.
 */
export async function migrate(pool: PoolLike): Promise<number[]> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await client.query(`CREATE TABLE IF NOT EXISTS vigil_schema_migrations (
      version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
    const done = new Set((await client.query<{ version: number }>('SELECT version FROM vigil_schema_migrations')).rows.map((r) => r.version));
    const applied: number[] = [];
    for (const step of MIGRATIONS) {
      if (done.has(step.version)) continue;
      await client.query(step.sql);
      await client.query('INSERT INTO vigil_schema_migrations (version, name) VALUES ($1, $2)', [step.version, step.name]);
      applied.push(step.version);
    }
    await client.query('COMMIT');
    return applied;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

/**
 * The database refused the statement itself (SQLSTATE class 22 data exception, 23 integrity
 * violation, 42 syntax or access rule): sending the same rows again cannot succeed. Anything
 * else (connection lost, authentication, shutting down) may pass once the database is back.
 */
export function isRefusedStatement(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && /^(22|23|42)/.test(code);
}
