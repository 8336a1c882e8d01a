import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { ModelMonitor } from '../../src/observability/model-monitor.js';
import { PostgresPredictionStore } from '../../src/observability/postgres-prediction-store.js';
import { migrate, MIGRATIONS, createPool } from '../../src/store/postgres.js';
import { PG_PASSWORD, requirePostgres, startPostgres, type PostgresCluster } from '../helpers/postgres.js';

/**
 * The PostgreSQL prediction store against a real PostgreSQL (Debian's, a private cluster
 * started by this file): concurrent migrations, the batched writer, labels all or none,
 * retention one replica at a time, and a database that goes away and comes back.
 */

const available = requirePostgres('PostgreSQL prediction store');
const spam = { name: 'spam', version: '1', task: 'text-classification', labels: ['ham', 'spam'], quality: { metrics: ['accuracy', 'precision', 'recall'], positiveLabel: 'spam' } };
const env = { VIGIL_PREDICTION_LOG_PASSWORD: PG_PASSWORD };
const row = (i: number, createdAt = Date.now()) => ({ requestId: `r${i}`, index: 0, model: 'spam', version: '1', createdAt, label: i % 2 ? 'spam' : 'ham', score: 0.9 });
const until = async (done: () => boolean | Promise<boolean>, timeoutMs = 30_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
};

describe.skipIf(!available)('PostgreSQL prediction store', () => {
  let pgc: PostgresCluster;
  beforeAll(async () => {
    pgc = await startPostgres();
  }, 120_000);
  afterAll(() => pgc?.destroy());

  it('migrates once when several replicas start at the same moment', async () => {
    const pools = Array.from({ length: 5 }, () => createPool({ url: pgc.url, env }));
    const applied = await Promise.all(pools.map((pool) => migrate(pool)));
    await Promise.all(pools.map((pool) => pool.end()));
    // Exactly one of them applied every step; the others found nothing to do.
    expect(applied.filter((a) => a.length > 0)).toEqual([MIGRATIONS.map((m) => m.version)]);
    const versions = await pgc.query<{ version: number }>('SELECT version FROM vigil_schema_migrations ORDER BY version');
    expect(versions.map((v) => v.version)).toEqual(MIGRATIONS.map((m) => m.version));
  });

  it('writes in batches off the request path, joins labels across stores, all or none', async () => {
    const a = new PostgresPredictionStore({ url: pgc.url, env, pruneIntervalMs: 0, replica: 'a' });
    const b = new PostgresPredictionStore({ url: pgc.url, env, pruneIntervalMs: 0, replica: 'b' });
    await Promise.all([a.start(), b.start()]);
    a.append(Array.from({ length: 2500 }, (_, i) => row(i)));
    expect(a.pendingRows).toBe(2500); // queued, nothing written inside append
    await until(() => a.written === 2500);
    expect(a.pendingRows).toBe(0);
    // b sees a's rows: the join works whichever replica gets the label.
    const [found] = await b.find('r7');
    expect(found).toMatchObject({ requestId: 'r7', model: 'spam', label: 'spam', score: 0.9 });
    const other = (await b.find('r8'))[0]!;
    expect(await b.label([{ id: found!.id, trueLabel: 'spam', labelledAt: Date.now() }])).toEqual({ ok: true });
    // The second item is already labelled: nothing of this call is written.
    expect(await a.label([{ id: other.id, trueLabel: 'ham', labelledAt: Date.now() }, { id: found!.id, trueLabel: 'ham', labelledAt: Date.now() }])).toEqual({ ok: false, already: found!.id });
    expect((await a.find('r8'))[0]!.labelledAt).toBeUndefined();
    expect((await a.recentLabelled('spam', '1', 10)).map((r) => r.requestId)).toEqual(['r7']);
    const replicas = await pgc.query<{ replica: string; n: string }>('SELECT replica, count(*) AS n FROM vigil_predictions GROUP BY replica');
    expect(replicas).toEqual([{ replica: 'a', n: '2500' }]);
    await Promise.all([a.close(), b.close()]);
    await pgc.query('TRUNCATE vigil_predictions');
  });

  it('retention: one replica prunes at a time and the rows past the limits go', async () => {
    const now = Date.now();
    const stores = [0, 1, 2].map((i) => new PostgresPredictionStore({ url: pgc.url, env, pruneIntervalMs: 0, maxRows: 3000, maxAgeDays: 10, replica: `r${i}` }));
    await Promise.all(stores.map((s) => s.start()));
    stores[0]!.append(Array.from({ length: 1000 }, (_, i) => row(i, now - 20 * 86_400_000))); // too old
    stores[0]!.append(Array.from({ length: 6000 }, (_, i) => row(1000 + i, now)));
    await stores[0]!.flush();
    expect(await stores[0]!.count()).toBe(7000);
    const deleted = await Promise.all(stores.map((s) => s.prune()));
    // Whoever got the lock did the work; the total is exact either way.
    expect(deleted.reduce((x, y) => x + y, 0)).toBe(4000);
    expect(await stores[1]!.count()).toBe(3000);
    expect(await stores[1]!.find('r3999')).toEqual([]);
    expect(await stores[1]!.find('r4000')).toHaveLength(1);
    await Promise.all(stores.map((s) => s.close()));
    await pgc.query('TRUNCATE vigil_predictions');
  });

  it('a lost database: rows are buffered up to the bound, the rest dropped and counted exactly, and written once it is back', async () => {
    const registry = new Registry();
    const monitor = new ModelMonitor({ registry, log: { path: pgc.url, pruneIntervalMs: 0, bufferRows: 300, flushIntervalMs: 20 } });
    // The password comes from the environment of the process: set for this monitor's pool.
    expect(monitor.log.kind).toBe('postgres');
    await monitor.close();

    const store = new PostgresPredictionStore({ url: pgc.url, env, pruneIntervalMs: 0, bufferRows: 300, flushIntervalMs: 20 });
    await store.start();
    store.append(Array.from({ length: 100 }, (_, i) => row(i)));
    await until(() => store.written === 100);
    pgc.stop('fast');
    store.append(Array.from({ length: 250 }, (_, i) => row(100 + i)));
    await until(() => store.up === false);
    store.append(Array.from({ length: 200 }, (_, i) => row(350 + i)));
    expect(store.pendingRows).toBe(300);
    expect(store.dropped).toBe(150);
    await expect(store.find('r1')).rejects.toMatchObject({ status: 503, code: 'prediction_log_unavailable' });
    pgc.start();
    await until(() => store.written === 400, 60_000);
    expect(store.up).toBe(true);
    expect(store.pendingRows).toBe(0);
    const [{ n }] = (await pgc.query<{ n: string }>('SELECT count(*) AS n FROM vigil_predictions')) as [{ n: string }];
    expect(Number(n) + store.dropped).toBe(550);
    await store.close();
  }, 120_000);
});
