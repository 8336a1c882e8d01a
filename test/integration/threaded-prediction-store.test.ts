import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { openPredictionStore } from '../../src/observability/open-prediction-store.js';
import { SqlitePredictionStore } from '../../src/observability/sqlite-prediction-store.js';
import { ThreadedSqliteStore } from '../../src/observability/threaded-sqlite-store.js';
import type { PredictionRecord } from '../../src/observability/prediction-store.js';
import { REPO_ROOT } from '../helpers/server.js';

const dir = mkdtempSync(path.join(tmpdir(), 'vigil-threaded-store-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const row = (requestId: string, index = 0): PredictionRecord => ({ requestId, index, model: 'spam', version: '2', createdAt: Date.now(), label: 'ham', score: 0.9 });
const rowsIn = (file: string) => {
  const db = new Database(file, { readonly: true });
  try {
    return (db.prepare('SELECT COUNT(*) AS n FROM predictions').get() as { n: number }).n;
  } finally {
    db.close();
  }
};

describe('the SQLite prediction log on a writer thread', () => {
  it('is the default for a SQLite file; sync commits and an injected clock keep the in-thread log', async () => {
    const threaded = openPredictionStore({ path: path.join(dir, 'default.db') });
    const sync = openPredictionStore({ path: path.join(dir, 'sync.db'), synchronous: true });
    const clocked = openPredictionStore({ path: path.join(dir, 'clocked.db'), now: () => 0 });
    expect(threaded).toBeInstanceOf(ThreadedSqliteStore);
    expect(sync).toBeInstanceOf(SqlitePredictionStore);
    expect(clocked).toBeInstanceOf(SqlitePredictionStore);
    await Promise.all([threaded.close(), sync.close(), clocked.close()]);
  });

  it('answers lookups with every row appended before them, and labels all or none', async () => {
    const store = new ThreadedSqliteStore({ path: path.join(dir, 'lookups.db'), flushIntervalMs: 60_000 });
    await store.start();
    store.append([row('a', 0), row('a', 1)]);
    store.append([row('b')]);
    // Still queued on this thread (the interval is a minute): the lookup sends them first.
    expect(store.pendingRows).toBe(3);
    const found = await store.find('a');
    expect(found.map((p) => [p.requestId, p.index])).toEqual([['a', 0], ['a', 1]]);
    expect(await store.count()).toBe(3);
    expect(store.written).toBe(3);
    expect(store.pendingRows).toBe(0);
    expect(await store.label([{ id: found[0]!.id, trueLabel: 'spam', labelledAt: Date.now() }])).toEqual({ ok: true });
    expect(await store.label([{ id: found[1]!.id, trueLabel: 'spam', labelledAt: Date.now() }, { id: found[0]!.id, trueLabel: 'ham', labelledAt: Date.now() }])).toEqual({ ok: false, already: found[0]!.id });
    const labelled = await store.recentLabelled('spam', '2', 10);
    expect(labelled.map((p) => [p.id, p.trueLabel])).toEqual([[found[0]!.id, 'spam']]);
    await store.close();
  });

  it('writes on its interval without any lookup, and what is still queued at close', async () => {
    const file = path.join(dir, 'writes.db');
    const store = new ThreadedSqliteStore({ path: file, flushIntervalMs: 20 });
    await store.start();
    store.append([row('c')]);
    await expect.poll(() => store.written, { timeout: 10_000 }).toBe(1);
    expect(rowsIn(file)).toBe(1);
    store.append([row('d'), row('e')]);
    await store.close();
    expect(rowsIn(file)).toBe(3);
    // Closed: further rows are not taken (and not counted as lost: the server is stopping).
    store.append([row('f')]);
    expect(store.dropped).toBe(0);
  });

  it('refuses a path that cannot be a database at once, naming it', () => {
    const notADatabase = path.join(dir, 'not-a-database.db');
    writeFileSync(notADatabase, 'plain text, not SQLite '.repeat(100));
    expect(() => new ThreadedSqliteStore({ path: notADatabase })).toThrow(/cannot open the prediction log .*not-a-database\.db/);
  });

  it('never keeps a process alive by itself', () => {
    // A process that opens the store, appends and waits on nothing must exit on its own.
    const script = `
      const { ThreadedSqliteStore } = await import(${JSON.stringify(path.join(REPO_ROOT, 'dist', 'observability', 'threaded-sqlite-store.js'))});
      const store = new ThreadedSqliteStore({});
      await store.start();
      store.append([{ requestId: 'x', index: 0, model: 'm', version: '1', createdAt: Date.now() }]);
      console.log('found', (await store.find('x')).length);
    `;
    const file = path.join(dir, 'opens-and-leaves.mjs');
    writeFileSync(file, script);
    const child = spawnSync(process.execPath, [file], { encoding: 'utf8', timeout: 30_000 });
    expect(child.stderr).toBe('');
    expect(child.stdout.trim()).toBe('found 1');
    expect(child.status).toBe(0);
  });
});
