/**
 * The watchdog's lock with real processes: a holder killed with SIGKILL must not block
 * forever, a hung holder (SIGSTOP: alive but silent) loses the lock once its heartbeat is
 * stale, a live holder keeps it, and when many processes race to break the same stale lock
 * exactly one wins (the recover.sh "rm then create" bug).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/server.js';

const LOCK_MODULE = pathToFileURL(path.join(REPO_ROOT, 'dist', 'ops', 'lock.js')).href;
const work = mkdtempSync(path.join(tmpdir(), 'vigil-lock-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null) {
      child.kill('SIGCONT');
      child.kill('SIGKILL');
    }
  }
});

/**
 * A process that tries to take the lock (after `startAt`, so racers start together), prints
 * "acquired" or "busy", and if it got it holds it for `holdMs` before releasing.
 */
function taker(lockFile: string, options: { staleMs: number; holdMs: number; startAt?: number }): { child: ChildProcess; output: Promise<string> } {
  const script = `
    const { acquireLock } = await import(${JSON.stringify(LOCK_MODULE)});
    while (Date.now() < ${options.startAt ?? 0}) {}
    const r = acquireLock(${JSON.stringify(lockFile)}, { staleMs: ${options.staleMs} });
    console.log(r.acquired ? 'acquired' : 'busy: ' + r.reason);
    if (r.acquired) { await new Promise((s) => setTimeout(s, ${options.holdMs})); r.lock.release(); }
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  let out = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  const output = new Promise<string>((resolve) => child.once('exit', () => resolve(out.trim())));
  return { child, output };
}

async function firstLine(child: ChildProcess): Promise<string> {
  return new Promise((resolve) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString('utf8');
      if (out.includes('\n')) resolve(out.split('\n')[0]!);
    });
  });
}

const { acquireLock, breakStale, readHolder } = (await import(LOCK_MODULE)) as typeof import('../../src/ops/lock.js');

describe('watchdog lock', () => {
  it('keeps a live holder and refuses others', async () => {
    const file = path.join(work, 'live.lock');
    const holder = taker(file, { staleMs: 2000, holdMs: 60_000 });
    expect(await firstLine(holder.child)).toBe('acquired');
    const other = acquireLock(file, { staleMs: 2000 });
    expect(other.acquired).toBe(false);
    if (!other.acquired) expect(other.reason).toMatch(new RegExp(`held by pid ${holder.child.pid}`));
  });

  it('breaks the lock of a holder killed with SIGKILL', async () => {
    const file = path.join(work, 'crashed.lock');
    // A long staleness window: only the dead pid can free it this fast.
    const holder = taker(file, { staleMs: 600_000, holdMs: 60_000 });
    expect(await firstLine(holder.child)).toBe('acquired');
    holder.child.kill('SIGKILL');
    await holder.output;
    expect(readHolder(file)?.pid).toBe(holder.child.pid);
    const mine = acquireLock(file, { staleMs: 600_000 });
    expect(mine.acquired).toBe(true);
    if (mine.acquired) {
      expect(readHolder(file)?.pid).toBe(process.pid);
      mine.lock.release();
    }
  });

  it('breaks the lock of a hung holder once its heartbeat is stale', async () => {
    const file = path.join(work, 'hung.lock');
    const holder = taker(file, { staleMs: 600, holdMs: 60_000 });
    expect(await firstLine(holder.child)).toBe('acquired');
    // Alive, so its heartbeat keeps the lock fresh for a while...
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(acquireLock(file, { staleMs: 600 }).acquired).toBe(false);
    // ...until it hangs.
    holder.child.kill('SIGSTOP');
    const deadline = Date.now() + 20_000;
    let taken = acquireLock(file, { staleMs: 600 });
    while (!taken.acquired && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      taken = acquireLock(file, { staleMs: 600 });
    }
    expect(taken.acquired).toBe(true);
    if (taken.acquired) taken.lock.release();
  });

  it('does not break a lock that changed hands after it was judged stale (the rm-then-create bug)', async () => {
    const file = path.join(work, 'handover.lock');
    const dead = { pid: 2 ** 22 + 12345, host: hostname(), token: 'dead', acquired_at: new Date().toISOString() };
    writeFileSync(file, JSON.stringify(dead));
    const judged = readHolder(file); // racer B reads the stale lock...
    const a = acquireLock(file, { staleMs: 600_000 }); // ...racer A breaks it and takes it...
    expect(a.acquired).toBe(true);
    expect(breakStale(file, judged, 600_000)).toBe(false); // ...and B must not remove A's fresh lock.
    expect(readHolder(file)?.token).toBe(a.acquired ? a.lock.holder.token : '');
    if (a.acquired) a.lock.release();
  });

  // Real concurrency on top of the interleaving above; the window is small, so this is a guard
  // against gross mistakes (two winners on an uncontended break), not a proof.
  it('lets exactly one of many racers break the same stale lock', async () => {
    for (let round = 0; round < 2; round++) {
      const file = path.join(work, `race${round}.lock`);
      // A lock left by a pid that cannot exist on this host.
      writeFileSync(file, JSON.stringify({ pid: 2 ** 22 + 12345, host: hostname(), token: `dead-${round}`, acquired_at: new Date().toISOString() }));
      const startAt = Date.now() + 1500; // after every racer has booted
      const racers = Array.from({ length: 6 }, () => taker(file, { staleMs: 600_000, holdMs: 1500, startAt }));
      const results = await Promise.all(racers.map((r) => r.output));
      expect(results.filter((r) => r === 'acquired'), results.join('\n')).toHaveLength(1);
    }
  });

  it('never releases a lock it does not hold', async () => {
    const file = path.join(work, 'mine.lock');
    const first = acquireLock(file, { staleMs: 600_000 });
    expect(first.acquired).toBe(true);
    if (!first.acquired) return;
    // Someone else broke it and took it (as if we had hung): our release must leave theirs.
    rmSync(file);
    const second = acquireLock(file, { staleMs: 600_000 });
    expect(second.acquired).toBe(true);
    first.lock.release();
    expect(readHolder(file)?.token).toBe(second.acquired ? second.lock.holder.token : '');
    if (second.acquired) second.lock.release();
  });
});
