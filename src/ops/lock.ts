/**
 * A lock file that two watchdogs (or a watchdog and an operator's script) honour, and that a
 * crashed holder cannot leave blocking forever.
 *
 * - Taken with O_CREAT|O_EXCL (`wx`): creation is atomic, so two takers never both succeed.
 * - It holds the holder's pid, host and a random token; the holder refreshes its mtime
 *   (heartbeat) while it works, so a lock is stale when its holder's pid is gone (same host)
 *   or its heartbeat stopped for `staleMs` (a hung holder, or another host).
 * - The classic recover.sh bug is breaking a stale lock with "rm then create": two breakers
 *   both see the same stale lock, A removes it and takes a fresh one, B then removes A's
 *   FRESH lock and takes its own - both "hold" it. Here breaking happens under a second
 *   O_EXCL file (`<lock>.break`), and the breaker re-reads the lock and removes it only if it
 *   still holds the same stale token it judged.
 * - Release removes the file only if it still holds our token (never someone else's lock).
 */
import { randomUUID } from 'node:crypto';
import { closeSync, openSync, readFileSync, statSync, unlinkSync, utimesSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';

export interface LockHolder {
  pid: number;
  host: string;
  token: string;
  acquired_at: string;
  purpose?: string;
}

export interface LockOptions {
  /** A heartbeat older than this marks the lock stale even if its pid still exists. */
  staleMs: number;
  purpose?: string;
}

export type AcquireResult = { acquired: true; lock: HeldLock } | { acquired: false; holder: LockHolder | undefined; reason: string };

/** A breaker file older than this was left by a breaker that crashed mid-break (breaking takes microseconds). */
const BREAKER_STALE_MS = 10_000;

export class HeldLock {
  private heartbeat: NodeJS.Timeout | undefined;

  constructor(
    readonly path: string,
    readonly holder: LockHolder,
    staleMs: number,
  ) {
    // Refresh well inside the staleness window, and never keep the process alive for it.
    this.heartbeat = setInterval(() => this.touch(), Math.max(50, Math.floor(staleMs / 3)));
    this.heartbeat.unref();
  }

  /** Refreshes the heartbeat; false when the lock is no longer ours (it was broken). */
  touch(): boolean {
    if (readHolder(this.path)?.token !== this.holder.token) return false;
    const now = new Date();
    try {
      utimesSync(this.path, now, now);
      return true;
    } catch {
      return false;
    }
  }

  release(): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = undefined;
    if (readHolder(this.path)?.token === this.holder.token) safeUnlink(this.path);
  }
}

export function readHolder(path: string): LockHolder | undefined {
  try {
    const holder = JSON.parse(readFileSync(path, 'utf8')) as LockHolder;
    return typeof holder.pid === 'number' && typeof holder.token === 'string' ? holder : undefined;
  } catch {
    return undefined;
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else - alive.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function ageMs(path: string): number | undefined {
  try {
    return Date.now() - statSync(path).mtimeMs;
  } catch {
    return undefined;
  }
}

function safeUnlink(path: string): void {
  try {
    unlinkSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}

/** Why the lock at `path` may be broken, or undefined when its holder is alive and well. */
export function staleReason(path: string, holder: LockHolder | undefined, staleMs: number): string | undefined {
  const age = ageMs(path);
  if (age === undefined) return undefined; // gone already: nothing to break
  // An unreadable lock is a holder that crashed between create and write, or garbage: only age tells.
  if (!holder) return age > staleMs ? `unreadable lock file, ${Math.round(age)} ms old` : undefined;
  if (holder.host === hostname() && !pidAlive(holder.pid)) return `holder pid ${holder.pid} is gone`;
  if (age > staleMs) return `holder pid ${holder.pid} on ${holder.host} stopped its heartbeat ${Math.round(age)} ms ago`;
  return undefined;
}

function tryCreate(path: string, holder: LockHolder): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'wx', 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
  try {
    writeSync(fd, `${JSON.stringify(holder)}\n`);
  } finally {
    closeSync(fd);
  }
  return true;
}

/**
 * Removes the lock only if it is still the very stale lock we judged, under the breaker file.
 * Exported so a test can replay the losing interleaving: judged stale, then taken by another.
 */
export function breakStale(path: string, judged: LockHolder | undefined, staleMs: number): boolean {
  const breaker = `${path}.break`;
  const breakerAge = ageMs(breaker);
  if (breakerAge !== undefined && breakerAge > BREAKER_STALE_MS) safeUnlink(breaker);
  let fd: number;
  try {
    fd = openSync(breaker, 'wx', 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false; // someone else is breaking it
    throw error;
  }
  try {
    const now = readHolder(path);
    if (now?.token !== judged?.token) return false; // it changed hands since we looked
    if (!staleReason(path, now, staleMs)) return false;
    safeUnlink(path);
    return true;
  } finally {
    closeSync(fd);
    safeUnlink(breaker);
  }
}

export function acquireLock(path: string, options: LockOptions): AcquireResult {
  const holder: LockHolder = {
    pid: process.pid,
    host: hostname(),
    token: randomUUID(),
    acquired_at: new Date().toISOString(),
    ...(options.purpose ? { purpose: options.purpose } : {}),
  };
  if (tryCreate(path, holder)) return { acquired: true, lock: new HeldLock(path, holder, options.staleMs) };
  const current = readHolder(path);
  const stale = staleReason(path, current, options.staleMs);
  if (!stale) return { acquired: false, holder: current, reason: current ? `held by pid ${current.pid} on ${current.host}` : 'held (being written)' };
  if (breakStale(path, current, options.staleMs) && tryCreate(path, holder)) {
    return { acquired: true, lock: new HeldLock(path, holder, options.staleMs) };
  }
  return { acquired: false, holder: readHolder(path), reason: `lost the race to break a stale lock (${stale})` };
}
