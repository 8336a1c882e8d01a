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
  pooled: CallCost;
  /** Measured with one intra-op thread, when the thread count was left to Vigil. */
  single?: CallCost;
  /** The batch size batchMaxMs was measured at. */
  maxBatch: number;
}

export interface EngineRequest {
  calibration: Calibration;
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
  /** Which calibration row the choice rests on. */
  measured: CallCost;
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

function chooseThreads(request: EngineRequest): { intraOpThreads: number; measured: CallCost; why: string } {
  const { calibration } = request;
  if (request.intraOpThreads !== undefined) return { intraOpThreads: request.intraOpThreads, measured: calibration.pooled, why: `${request.intraOpThreads} intra-op threads as configured` };
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
  const at = (threads: typeof onWorkers) => {
    const batch = threads.measured.batchMaxMs === undefined ? `1 x ${request.calibration.maxBatch}` : request.calibration.maxBatch;
    return `${ms(worstCallMs(threads.measured, request.calibration.maxBatch))} per call at batch ${batch}`;
  };
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
