import { describe, expect, it } from 'vitest';
import { chooseEngine, POOL_MIN_GAIN, worstCallMs, type EngineRequest } from '../../src/runtimes/onnx/engine-choice.js';

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
