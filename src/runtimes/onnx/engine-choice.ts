/**
 * Where a model's engine runs and with how many threads, decided from what its own calls cost.
 *
 * A worker thread keeps the event loop free while a call computes, but every batch pays a
 * round trip (two postMessage hops, a wake-up on each side): tens of microseconds, which is
 * more than a whole call of Vigil's small models (~0.05-0.15 ms). Such a model is better run
 * on the server thread ("inline"), where the call blocks the event loop for less than the
 * round trip would have cost. A model whose call at its largest batch takes longer than a bound
 * would hold up health checks, scrapes and every other request meanwhile: it stays on workers.
 *
 * Threads: onnxruntime's intra-op pool splits each operator across cores, which pays off for
 * DistilBERT-size matrices and costs more than it saves on tiny ones, while its threads spin
 * between calls and take CPU from the HTTP thread. On a worker, one thread wins unless the pool
 * is measurably faster. On the server thread, one thread always (unless configured): an inline
 * call is short by definition, so the pool could save a fraction of a millisecond per batch,
 * while between calls, which is most of the time there, its threads would spin on the cores the
 * server thread, the GC and the kernel's network stack need. Measured on 2 cores shared with
 * other work, embedded sentiment at 1,500 requests/s: the pool cost 450-747 µs of process CPU per
 * request and fell behind, one thread 274-327 µs; on a quiet machine the same (docs/performance.md).
 *
 * Where it is measured: a small graph file is first measured on the server thread, in the
 * session it would serve from there, so that a model which belongs there never starts a worker
 * (a Node isolate and onnxruntime's JavaScript, ~60 ms of CPU each, on the path to /ready); only
 * when it turns out over the bound is it measured again on a worker, against the pool.
 *
 * This module only decides; measuring is done by the engine (worker.ts / inline.ts) and the
 * tests give it measured inputs.
 */

export type Placement = 'worker' | 'inline';
export type PlacementSetting = Placement | 'auto';

/** Median engine time of one call, in milliseconds, at batch 1 and at the model's largest batch. */
export interface CallCost {
  batch1Ms: number;
  /** Absent when measuring the largest batch was not possible (no batch dimension, or over budget). */
  batchMaxMs?: number;
}

export interface Calibration {
  /** Measured with the pool onnxruntime would use (`intraOpThreads` as configured, 0 = one per core). */
  pooled?: CallCost;
  /** Measured with one intra-op thread, when the thread count was left to Vigil. */
  single?: CallCost;
  /** The batch size batchMaxMs was measured at. */
  maxBatch: number;
}

/** A worker's calibration always has the configured pool's cost. */
export type WorkerCalibration = Calibration & { pooled: CallCost };

export interface EngineRequest {
  calibration: WorkerCalibration;
  /** What the configuration asks for: auto decides from the calibration. */
  placement: PlacementSetting;
  /** A call may block the server thread at most this long to run inline (milliseconds). */
  inlineMaxMs: number;
  /** Set when the user chose the intra-op thread count: then it is kept. */
  intraOpThreads?: number;
  /** Sessions asked for; more than one needs workers (inline is one call at a time). */
  sessions: number;
}

export interface EngineChoice {
  placement: Placement;
  /** The intra-op threads to run with (0 = onnxruntime's default, one per core). */
  intraOpThreads: number;
  /** Which calibration row the choice rests on (absent when nothing could be measured). */
  measured?: CallCost;
  /** One sentence for the load log and the model description. */
  reason: string;
}

/** The pool must be at least this much faster than one thread to be worth its spinning threads. */
export const POOL_MIN_GAIN = 0.15;

/** The cost that decides: the largest batch when it was measured, else batch 1 scaled by the batch size (an upper bound). */
export function worstCallMs(cost: CallCost, maxBatch: number): number {
  return cost.batchMaxMs ?? cost.batch1Ms * maxBatch;
}

const ms = (value: number) => `${value < 1 ? value.toFixed(3) : value.toFixed(1)} ms`;

/** "0.345 ms per call at batch 8" (or "at batch 1 x 8" when only batch 1 was measured), for the reasons below. */
const perCall = (cost: CallCost, maxBatch: number) => `${ms(worstCallMs(cost, maxBatch))} per call at batch ${cost.batchMaxMs === undefined ? `1 x ${maxBatch}` : maxBatch}`;
const configuredThreads = (count: number) => `${count} intra-op threads as configured`;

function chooseThreads(request: EngineRequest): { intraOpThreads: number; measured: CallCost; why: string } {
  const { calibration } = request;
  if (request.intraOpThreads !== undefined) return { intraOpThreads: request.intraOpThreads, measured: calibration.pooled, why: configuredThreads(request.intraOpThreads) };
  const single = calibration.single;
  if (!single) return { intraOpThreads: 0, measured: calibration.pooled, why: 'the default thread pool (one thread was not measured)' };
  const pooledMs = worstCallMs(calibration.pooled, calibration.maxBatch);
  const singleMs = worstCallMs(single, calibration.maxBatch);
  if (pooledMs <= singleMs * (1 - POOL_MIN_GAIN)) {
    return { intraOpThreads: 0, measured: calibration.pooled, why: `the thread pool (${ms(pooledMs)} against ${ms(singleMs)} on one thread)` };
  }
  return { intraOpThreads: 1, measured: single, why: `one thread (${ms(singleMs)}; the pool took ${ms(pooledMs)})` };
}

export function chooseEngine(request: EngineRequest): EngineChoice {
  const onWorkers = chooseThreads(request);
  const inline = inlineThreads(request) ?? onWorkers;
  const at = (threads: typeof onWorkers) => perCall(threads.measured, request.calibration.maxBatch);
  const choice = (placement: Placement, threads: typeof onWorkers, why: string): EngineChoice => ({
    placement,
    intraOpThreads: threads.intraOpThreads,
    measured: threads.measured,
    reason: `${placement === 'inline' ? 'on the server thread' : 'on worker threads'}: ${why}; ${threads.why}`,
  });
  if (request.placement === 'inline') return choice('inline', inline, `as configured (${at(inline)})`);
  if (request.placement === 'worker') return choice('worker', onWorkers, `as configured (${at(onWorkers)})`);
  if (request.sessions > 1) return choice('worker', onWorkers, `${request.sessions} sessions asked for (${at(onWorkers)})`);
  if (worstCallMs(inline.measured, request.calibration.maxBatch) <= request.inlineMaxMs) return choice('inline', inline, `${at(inline)}, within the ${ms(request.inlineMaxMs)} bound`);
  return choice('worker', onWorkers, `${at(onWorkers)}, over the ${ms(request.inlineMaxMs)} bound`);
}

/** On the server thread: one intra-op thread when the count is Vigil's to choose and one thread was measured. */
function inlineThreads(request: EngineRequest): { intraOpThreads: number; measured: CallCost; why: string } | undefined {
  const single = request.calibration.single;
  if (request.intraOpThreads !== undefined || !single) return undefined;
  return { intraOpThreads: 1, measured: single, why: `one thread (${ms(worstCallMs(single, request.calibration.maxBatch))}; a pool would spin beside the server thread)` };
}

/**
 * Graph files up to this size are measured on the server thread before any worker starts: every
 * model of this repository is far below it (1.3 KB to 4.9 MB; their calls take 0.05-0.3 ms),
 * DistilBERT-size ones far above (68 MB int8). A small file can still be slow to compute (a
 * convolution over a large image): that is what the early give-up of the measurement is for.
 */
export const SERVER_THREAD_PROBE_MAX_BYTES = 16 * 1024 * 1024;

/**
 * While measuring on the server thread, a single call this much slower than the bound ends the
 * measurement (the graph goes to a worker): it bounds how long a heavy graph blocks the event
 * loop at load to a warm-up call and one timed call.
 */
export const SERVER_THREAD_GIVE_UP_FACTOR = 10;
/** ...and at least this long, so that a preempted call of a light graph does not send it away. */
export const SERVER_THREAD_GIVE_UP_MIN_MS = 20;

export function serverThreadGiveUpMs(inlineMaxMs: number): number {
  return Math.max(SERVER_THREAD_GIVE_UP_MIN_MS, inlineMaxMs * SERVER_THREAD_GIVE_UP_FACTOR);
}

export interface ProbeRequest {
  placement: PlacementSetting;
  sessions: number;
  /** The graph file's size in bytes (Infinity when it could not be read: the worker reports why). */
  fileBytes: number;
}

/** Whether to load and measure the graph on the server thread first, before any worker. */
export function measureOnServerThreadFirst(request: ProbeRequest): boolean {
  if (request.placement === 'worker' || request.sessions > 1) return false;
  return request.placement === 'inline' || request.fileBytes <= SERVER_THREAD_PROBE_MAX_BYTES;
}

export interface ServerThreadRequest {
  /** The call cost measured on the server thread with the threads it would serve with; undefined when the inputs could not be made up. */
  cost: CallCost | undefined;
  placement: PlacementSetting;
  inlineMaxMs: number;
  maxBatch: number;
  /** Set when the user chose the intra-op thread count. */
  intraOpThreads?: number;
}

/**
 * The choice from a measurement on the server thread: inline when configured so or when the
 * largest batch fits the bound; undefined when the graph must be measured on a worker instead
 * (over the bound, or not measurable under auto).
 */
export function chooseFromServerThread(request: ServerThreadRequest): EngineChoice | undefined {
  const intraOpThreads = request.intraOpThreads ?? 1;
  const threads = request.intraOpThreads === undefined ? 'one thread (a pool would spin beside the server thread)' : configuredThreads(request.intraOpThreads);
  const { cost } = request;
  const at = cost && `${perCall(cost, request.maxBatch)}, measured there`;
  const inline = (why: string): EngineChoice => ({ placement: 'inline', intraOpThreads, ...(cost ? { measured: cost } : {}), reason: `on the server thread: ${why}; ${threads}` });
  if (request.placement === 'inline') return inline(at ? `as configured (${at})` : 'as configured');
  if (request.placement === 'worker' || !cost || !at) return undefined;
  return worstCallMs(cost, request.maxBatch) <= request.inlineMaxMs ? inline(`${at}, within the ${ms(request.inlineMaxMs)} bound`) : undefined;
}
