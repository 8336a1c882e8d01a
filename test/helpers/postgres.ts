import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { freePort } from './prometheus.js';

/**
 * A private PostgreSQL cluster from Debian's packages (`postgresql`), for tests: initdb in a
 * temporary folder, started with pg_ctl on a free loopback port, stopped and deleted by the
 * test. PostgreSQL refuses to run as root, so as root (CI) the cluster belongs to the
 * `postgres` user the package creates and every command runs through runuser; as anyone else
 * (a developer) it runs as that user. Password authentication (scram-sha-256) is on, so the
 * tests go through the same password path as production.
 *
 * Missing binaries skip the tests with a notice on a developer machine; CI sets
 * VIGIL_REQUIRE_POSTGRES=1 (.ci/run), and then they fail instead of skipping.
 */

export const PG_USER = 'vigil';
export const PG_PASSWORD = 's3cret-Pg-pass';
export const PG_DATABASE = 'vigil';

/** Debian keeps the server binaries out of PATH, under /usr/lib/postgresql/<major>/bin. */
export function postgresBinDir(): string | undefined {
  if (process.env.PG_BIN && existsSync(path.join(process.env.PG_BIN, 'initdb'))) return process.env.PG_BIN;
  const root = '/usr/lib/postgresql';
  if (existsSync(root)) {
    const majors = readdirSync(root).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a));
    for (const major of majors) if (existsSync(path.join(root, major, 'bin', 'initdb'))) return path.join(root, major, 'bin');
  }
  const config = spawnSync('pg_config', ['--bindir'], { encoding: 'utf8' });
  const bindir = config.status === 0 ? config.stdout.trim() : '';
  return bindir && existsSync(path.join(bindir, 'initdb')) ? bindir : undefined;
}

/** True when PostgreSQL can be started here; otherwise prints why the caller's tests skip (or throws in CI). */
export function requirePostgres(what: string): boolean {
  if (postgresBinDir()) return true;
  const message = `${what}: PostgreSQL's server binaries (initdb, pg_ctl) are not installed (apt-get install postgresql; .ci/run does)`;
  if (process.env.VIGIL_REQUIRE_POSTGRES === '1') throw new Error(message);
  console.warn(`[skipped] ${message}`);
  return false;
}

export interface PostgresCluster {
  port: number;
  /** postgres://vigil@127.0.0.1:PORT/vigil (no password: pass PG_PASSWORD apart). */
  url: string;
  /** The same with the password in it. */
  urlWithPassword: string;
  start(): void;
  /** `fast` waits for transactions to be rolled back and clients to be told; `immediate` is a crash. */
  stop(mode?: 'fast' | 'immediate'): void;
  client(): Promise<pg.Client>;
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<R[]>;
  destroy(): void;
}

const clusters = new Set<PostgresCluster>();
process.once('exit', () => {
  for (const cluster of clusters) cluster.destroy();
});

export async function startPostgres(): Promise<PostgresCluster> {
  const bin = postgresBinDir();
  if (!bin) throw new Error('PostgreSQL is not installed');
  const asRoot = userInfo().uid === 0;
  const dir = mkdtempSync(path.join(tmpdir(), 'vigil-pg-'));
  const data = path.join(dir, 'data');
  const socketDir = path.join(dir, 'run');
  const pwfile = path.join(dir, 'pwfile');
  writeFileSync(pwfile, `${PG_PASSWORD}\n`, { mode: 0o600 });
  mkdirSync(socketDir, { mode: 0o700 });
  if (asRoot) {
    const ids = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
    const gids = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
    if (ids.status !== 0) throw new Error('running as root, but there is no "postgres" user to own the test cluster (the postgresql package creates it)');
    const uid = Number(ids.stdout.trim());
    const gid = Number(gids.stdout.trim());
    chmodSync(dir, 0o700);
    chownSync(dir, uid, gid);
    chownSync(pwfile, uid, gid);
    chownSync(socketDir, uid, gid);
  }
  const exec = (command: string, args: string[]) => {
    const full = path.join(bin, command);
    const result = asRoot ? spawnSync('runuser', ['-u', 'postgres', '--', full, ...args], { encoding: 'utf8' }) : spawnSync(full, args, { encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed (${result.status}): ${result.stdout}${result.stderr}`);
    return result.stdout;
  };
  exec('initdb', ['-D', data, '-U', PG_USER, '--auth=scram-sha-256', `--pwfile=${pwfile}`, '--no-sync', '-E', 'UTF8', '--locale=C']);
  const port = await freePort();
  const options = `-p ${port} -k ${socketDir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off`;
  let running = false;
  const cluster: PostgresCluster = {
    port,
    url: `postgres://${PG_USER}@127.0.0.1:${port}/${PG_DATABASE}`,
    urlWithPassword: `postgres://${PG_USER}:${PG_PASSWORD}@127.0.0.1:${port}/${PG_DATABASE}`,
    start() {
      exec('pg_ctl', ['-D', data, '-o', options, '-l', path.join(dir, 'postgres.log'), '-w', '-t', '60', 'start']);
      running = true;
    },
    stop(mode = 'fast') {
      if (!running) return;
      exec('pg_ctl', ['-D', data, '-m', mode, '-w', '-t', '60', 'stop']);
      running = false;
    },
    async client() {
      const client = new pg.Client({ connectionString: `postgres://${PG_USER}:${PG_PASSWORD}@127.0.0.1:${port}/postgres` });
      await client.connect();
      return client;
    },
    async query(text, values) {
      const client = new pg.Client({ connectionString: cluster.urlWithPassword });
      await client.connect();
      try {
        return (await client.query(text, values)).rows;
      } finally {
        await client.end();
      }
    },
    destroy() {
      try {
        cluster.stop('immediate');
      } catch {
        // already stopped
      }
      clusters.delete(cluster);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  clusters.add(cluster);
  cluster.start();
  const admin = await cluster.client();
  try {
    await admin.query(`CREATE DATABASE ${PG_DATABASE}`);
  } finally {
    await admin.end();
  }
  return cluster;
}
