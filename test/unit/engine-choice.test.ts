import { describe, expect, it } from 'vitest';
import {
  chooseEngine,
  chooseFromServerThread,
  measureOnServerThreadFirst,
  POOL_MIN_GAIN,
  SERVER_THREAD_PROBE_MAX_BYTES,
  serverThreadGiveUpMs,
  worstCallMs,
  type EngineRequest,
  type ServerThreadRequest,
} from '../../src/runtimes/onnx/engine-choice.js';

/** Measured figures of this repository's models on a 2-core machine, rounded (docs/performance.md). */
const SENTIMENT = { pooled: { batch1Ms: 0.09, batchMaxMs: 0.32 }, single: { batch1Ms: 0.06, batchMaxMs: 0.25 }, maxBatch: 8 };
const DISTILBERT = { pooled: { batch1Ms: 10, batchMaxMs: 60 }, single: { batch1Ms: 17, batchMaxMs: 110 }, maxBatch: 8 };

const request = (changes: Partial<EngineRequest>): EngineRequest => ({ calibration: SENTIMENT, placement: 'auto', inlineMaxMs: 1, sessions: 1, ...changes });

describe('engine choice from measured call costs', () => {
  it('runs a model whose largest batch fits the bound on the server thread, with one thread', () => {
    const choice = chooseEngine(request({}));
    expect(choice).toMatchObject({ placement: 'inline', intraOpThreads: 1, measured: SENTIMENT.single });
    expect(choice.reason).toContain('within the 1.0 ms bound');
  });

  it('runs inline on one thread even where the pool is clearly faster, and keeps the pool on workers', () => {
    const poolFaster = { pooled: { batch1Ms: 0.1, batchMaxMs: 0.2 }, single: { batch1Ms: 0.1, batchMaxMs: 0.4 }, maxBatch: 8 };
    expect(chooseEngine(request({ calibration: poolFaster }))).toMatchObject({ placement: 'inline', intraOpThreads: 1, measured: poolFaster.single });
    expect(chooseEngine(request({ calibration: poolFaster, placement: 'inline' })).intraOpThreads).toBe(1);
    expect(chooseEngine(request({ calibration: poolFaster, placement: 'worker' })).intraOpThreads).toBe(0);
  });

  it('decides inline on the one-thread cost: a model only the pool brings within the bound goes to workers', () => {
    const onlyPooledFits = { pooled: { batch1Ms: 0.1, batchMaxMs: 0.8 }, single: { batch1Ms: 0.2, batchMaxMs: 1.5 }, maxBatch: 8 };
    expect(chooseEngine(request({ calibration: onlyPooledFits }))).toMatchObject({ placement: 'worker', intraOpThreads: 0 });
  });

  it('keeps a model over the bound on workers, with the pool when the pool is clearly faster', () => {
    const choice = chooseEngine(request({ calibration: DISTILBERT }));
    expect(choice).toMatchObject({ placement: 'worker', intraOpThreads: 0 });
    expect(choice.reason).toContain('over the 1.0 ms bound');
  });

  it('decides on the largest batch, not batch 1', () => {
    const slowBatch = { pooled: { batch1Ms: 0.1, batchMaxMs: 3 }, maxBatch: 8 };
    expect(chooseEngine(request({ calibration: slowBatch })).placement).toBe('worker');
  });

  it('scales batch 1 by the batch size when the largest batch was not measured', () => {
    expect(worstCallMs({ batch1Ms: 0.2 }, 8)).toBeCloseTo(1.6);
    expect(chooseEngine(request({ calibration: { pooled: { batch1Ms: 0.2 }, maxBatch: 8 } })).placement).toBe('worker');
    expect(chooseEngine(request({ calibration: { pooled: { batch1Ms: 0.1 }, maxBatch: 8 } })).placement).toBe('inline');
  });

  it('keeps the pool only when it saves at least the minimum gain', () => {
    const barely = { pooled: { batch1Ms: 1, batchMaxMs: 10 * (1 - POOL_MIN_GAIN) + 0.01 }, single: { batch1Ms: 1, batchMaxMs: 10 }, maxBatch: 8 };
    expect(chooseEngine(request({ calibration: barely })).intraOpThreads).toBe(1);
    const clearly = { ...barely, pooled: { batch1Ms: 1, batchMaxMs: 10 * (1 - POOL_MIN_GAIN) - 0.01 } };
    expect(chooseEngine(request({ calibration: clearly })).intraOpThreads).toBe(0);
  });

  it('keeps the configured thread count and placement, measuring only for the record', () => {
    expect(chooseEngine(request({ intraOpThreads: 2 }))).toMatchObject({ placement: 'inline', intraOpThreads: 2, measured: SENTIMENT.pooled });
    expect(chooseEngine(request({ placement: 'worker' })).placement).toBe('worker');
    expect(chooseEngine(request({ calibration: DISTILBERT, placement: 'inline' })).placement).toBe('inline');
  });

  it('uses workers when several sessions are asked for', () => {
    expect(chooseEngine(request({ sessions: 2 })).placement).toBe('worker');
  });

  it('uses the pool when one thread was not measured', () => {
    expect(chooseEngine(request({ calibration: { pooled: SENTIMENT.pooled, maxBatch: 8 } })).intraOpThreads).toBe(0);
  });
});

describe('measuring a small graph on the server thread first', () => {
  const MiB = 1024 * 1024;

  it('measures on the server thread first only for one session of a small file, unless placed on workers', () => {
    expect(measureOnServerThreadFirst({ placement: 'auto', sessions: 1, fileBytes: 4.9 * MiB })).toBe(true);
    expect(measureOnServerThreadFirst({ placement: 'auto', sessions: 1, fileBytes: SERVER_THREAD_PROBE_MAX_BYTES })).toBe(true);
    expect(measureOnServerThreadFirst({ placement: 'auto', sessions: 1, fileBytes: SERVER_THREAD_PROBE_MAX_BYTES + 1 })).toBe(false);
    expect(measureOnServerThreadFirst({ placement: 'auto', sessions: 1, fileBytes: 68 * MiB })).toBe(false);
    expect(measureOnServerThreadFirst({ placement: 'auto', sessions: 2, fileBytes: 1 })).toBe(false);
    expect(measureOnServerThreadFirst({ placement: 'worker', sessions: 1, fileBytes: 1 })).toBe(false);
    // Asked for the server thread: it goes there whatever its size, so it is measured there.
    expect(measureOnServerThreadFirst({ placement: 'inline', sessions: 1, fileBytes: 68 * MiB })).toBe(true);
    // A file that could not be read goes to the worker, which reports why.
    expect(measureOnServerThreadFirst({ placement: 'auto', sessions: 1, fileBytes: Infinity })).toBe(false);
  });

  const probe = (changes: Partial<ServerThreadRequest>): ServerThreadRequest => ({ cost: SENTIMENT.single, placement: 'auto', inlineMaxMs: 1, maxBatch: 8, ...changes });

  it('keeps a graph whose largest batch fits the bound there, on one thread, and says it was measured there', () => {
    const choice = chooseFromServerThread(probe({}));
    expect(choice).toMatchObject({ placement: 'inline', intraOpThreads: 1, measured: SENTIMENT.single });
    expect(choice?.reason).toBe('on the server thread: 0.250 ms per call at batch 8, measured there, within the 1.0 ms bound; one thread (a pool would spin beside the server thread)');
  });

  it('sends a graph over the bound, or one it could not measure, to a worker to be measured again', () => {
    expect(chooseFromServerThread(probe({ cost: { batch1Ms: 0.2, batchMaxMs: 1.01 } }))).toBeUndefined();
    // Batch 1 only (the largest batch was skipped or not formable): scaled by the batch size.
    expect(chooseFromServerThread(probe({ cost: { batch1Ms: 0.2 } }))).toBeUndefined();
    expect(chooseFromServerThread(probe({ cost: { batch1Ms: 0.1 } }))?.reason).toContain('0.800 ms per call at batch 1 x 8');
    expect(chooseFromServerThread(probe({ cost: undefined }))).toBeUndefined();
  });

  it('keeps a configured thread count and a configured placement, measured or not', () => {
    expect(chooseFromServerThread(probe({ intraOpThreads: 2 }))).toMatchObject({ placement: 'inline', intraOpThreads: 2 });
    expect(chooseFromServerThread(probe({ intraOpThreads: 2 }))?.reason).toContain('2 intra-op threads as configured');
    const forced = chooseFromServerThread(probe({ placement: 'inline', cost: DISTILBERT.single }));
    expect(forced).toMatchObject({ placement: 'inline', intraOpThreads: 1 });
    expect(forced?.reason).toContain('as configured (110.0 ms per call at batch 8, measured there)');
    const unmeasured = chooseFromServerThread(probe({ placement: 'inline', cost: undefined }));
    expect(unmeasured).toMatchObject({ placement: 'inline', intraOpThreads: 1, reason: 'on the server thread: as configured; one thread (a pool would spin beside the server thread)' });
    expect(unmeasured).not.toHaveProperty('measured');
    expect(chooseFromServerThread(probe({ placement: 'worker' }))).toBeUndefined();
  });

  it('gives up measuring there at a call ten times the bound, and never under 20 ms', () => {
    expect(serverThreadGiveUpMs(1)).toBe(20);
    expect(serverThreadGiveUpMs(5)).toBe(50);
    expect(serverThreadGiveUpMs(0)).toBe(20);
  });
});
