/**
 * What the health port answers, decided from two facts the server thread shares with the health
 * thread: when it last showed progress (a heartbeat, a monotonic timestamp it stores every
 * HEARTBEAT_INTERVAL_MS from a timer) and its readiness as the main `/ready` states it (posted
 * whenever it changes). Pure functions of those facts and the time, so the stall logic is
 * tested with given timestamps (test/unit/health-state.test.ts); the thread and its port are in
 * health-worker.ts and health-listener.ts.
 *
 * This module imports nothing: the health thread loads it and node:http, nothing else.
 */

/** How often the server thread stores its heartbeat. */
export const HEARTBEAT_INTERVAL_MS = 100;

/** The main `/ready` body: the same shape on both ports. */
export interface Readiness {
  ready: boolean;
  reason?: string;
  models: unknown[];
}

export interface HealthFacts {
  /** Monotonic milliseconds, now. */
  now: number;
  /** Monotonic milliseconds of the server thread's last heartbeat. */
  heartbeat: number;
  /** Seconds since the server started, as the main `/alive` counts them. */
  uptimeSeconds: number;
  /** --health-stall-ms. */
  stallMs: number;
  /** The readiness last posted by the server thread; undefined before the first. */
  readiness: Readiness | undefined;
}

export interface HealthAnswer {
  status: number;
  body: Record<string, unknown>;
}

/** How long the server thread has gone without a heartbeat (0 when it is fresh or from the future). */
export function heartbeatAge(facts: Pick<HealthFacts, 'now' | 'heartbeat'>): number {
  return Math.max(0, facts.now - facts.heartbeat);
}

/** Stalled: no heartbeat for longer than the bound. A heartbeat exactly at the bound is still alive. */
export function stalled(facts: Pick<HealthFacts, 'now' | 'heartbeat' | 'stallMs'>): boolean {
  return heartbeatAge(facts) > facts.stallMs;
}

function stallBody(facts: HealthFacts): Record<string, unknown> {
  const age = Math.round(heartbeatAge(facts));
  return {
    stalled_ms: age,
    stall_bound_ms: facts.stallMs,
    message: `the server thread has shown no progress for ${age} ms (bound: --health-stall-ms ${facts.stallMs})`,
  };
}

/** `/alive`: 200 while the server thread makes progress, 503 saying for how long it has not. */
export function aliveAnswer(facts: HealthFacts): HealthAnswer {
  if (stalled(facts)) return { status: 503, body: { status: 'stalled', uptime_seconds: facts.uptimeSeconds, ...stallBody(facts) } };
  return { status: 200, body: { status: 'alive', uptime_seconds: facts.uptimeSeconds, heartbeat_age_ms: Math.round(heartbeatAge(facts)) } };
}

/**
 * `/ready`: the main port's answer as the server thread last stated it, except that a stalled
 * server thread is not ready whatever it last said (its own `/ready` would not answer at all).
 */
export function readyAnswer(facts: HealthFacts): HealthAnswer {
  if (facts.readiness === undefined) return { status: 503, body: { ready: false, reason: 'starting', models: [] } };
  if (stalled(facts)) return { status: 503, body: { ...facts.readiness, ready: false, reason: 'server thread stalled', ...stallBody(facts) } };
  return { status: facts.readiness.ready ? 200 : 503, body: { ...facts.readiness } };
}

/** `/v2/health/live` (Open Inference Protocol): `{"live": bool}`. */
export function oipLiveAnswer(facts: HealthFacts): HealthAnswer {
  const alive = aliveAnswer(facts);
  return { status: alive.status, body: { live: alive.status === 200 } };
}

/** `/v2/health/ready` (Open Inference Protocol): `{"ready": bool}`. */
export function oipReadyAnswer(facts: HealthFacts): HealthAnswer {
  const ready = readyAnswer(facts);
  return { status: ready.status, body: { ready: ready.status === 200 } };
}

/** The health port's routes. */
export const HEALTH_ROUTES: Readonly<Record<string, (facts: HealthFacts) => HealthAnswer>> = {
  '/alive': aliveAnswer,
  '/ready': readyAnswer,
  '/v2/health/live': oipLiveAnswer,
  '/v2/health/ready': oipReadyAnswer,
};

/** Messages between the two threads. */
export type ToHealthThread = { type: 'readiness'; readiness: Readiness };
export type FromHealthThread = { type: 'listening'; port: number } | { type: 'failed'; code?: string; message: string };

/** What the server thread hands the health thread at start. */
export interface HealthWorkerData {
  host: string;
  port: number;
  stallMs: number;
  /** Epoch milliseconds the server started (uptime_seconds). */
  startedAt: number;
  /** One BigInt64 slot: the heartbeat, monotonic nanoseconds (process.hrtime.bigint()). */
  heartbeat: SharedArrayBuffer;
  readiness: Readiness;
}
