import { subscribe } from 'node:diagnostics_channel';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { OnnxSession, Tensor, type EngineSettings } from '../../src/runtimes/onnx/session.js';
import { REPO_ROOT } from '../helpers/server.js';

const AIR_QUALITY = path.join(REPO_ROOT, 'models', 'air-quality', '1', 'model.onnx');
const SENTIMENT = path.join(REPO_ROOT, 'models', 'sentiment', '1', 'model.onnx');

const loaded: OnnxSession[] = [];
async function load(file: string, threads: Parameters<typeof OnnxSession.load>[1], settings?: EngineSettings): Promise<OnnxSession> {
  const session = await OnnxSession.load(file, threads, settings);
  loaded.push(session);
  return session;
}
afterEach(async () => {
  await Promise.all(loaded.splice(0).map((s) => s.release()));
});

const features = () => ({ features: new Tensor('float32', Float32Array.from({ length: 20 }, (_, i) => i / 20), [2, 10]) });
const tokens = () => ({
  input_ids: new Tensor('int64', BigInt64Array.from([2n, 40n, 41n, 3n]), [1, 4]),
  attention_mask: new Tensor('int64', BigInt64Array.from([1n, 1n, 1n, 1n]), [1, 4]),
});
/** Workers started in this process (Node publishes each on this channel). */
let workersStarted = 0;
subscribe('worker_threads', () => workersStarted++);
const values = (outputs: Record<string, Tensor>) => Object.fromEntries(Object.entries(outputs).map(([name, t]) => [name, Array.from(t.data as Float32Array)]));

describe('engine placement measured at load (real onnxruntime sessions)', () => {
  it('puts a model within the bound on the server thread, measured there, with the same answers as a worker', async () => {
    const before = workersStarted;
    const inline = await load(AIR_QUALITY, {}, { placement: 'auto', inlineMaxMs: 1e6, maxBatch: 8 });
    // No worker was started to measure it.
    expect(workersStarted).toBe(before);
    expect(inline.engine).toMatchObject({ placement: 'inline', intraOpThreads: 1, sessions: 1 });
    expect(inline.engine.reason).toContain('measured there');
    expect(inline.engine.calibration?.single?.batch1Ms).toBeGreaterThan(0);
    expect(inline.engine.calibration?.single?.batchMaxMs).toBeGreaterThan(0);
    expect(inline.engine.calibration?.pooled).toBeUndefined();
    const worker = await load(AIR_QUALITY, { intraOpThreads: 1 });
    expect(workersStarted).toBe(before + 1);
    expect(worker.engine).toMatchObject({ placement: 'worker', reason: 'on worker threads, as configured' });
    expect(worker.engine.calibration).toBeUndefined();
    expect(values(await inline.run(features()))).toEqual(values(await worker.run(features())));
  });

  it('keeps a model over the bound on workers, measured again there against the pool, and serves from them', async () => {
    const session = await load(SENTIMENT, { sessions: 1 }, { placement: 'auto', inlineMaxMs: 0, maxBatch: 8 });
    expect(session.engine.placement).toBe('worker');
    expect([0, 1]).toContain(session.engine.intraOpThreads);
    expect(session.engine.reason).toContain('over the');
    expect(session.engine.reason).not.toContain('measured there');
    expect(session.engine.calibration?.pooled?.batch1Ms).toBeGreaterThan(0);
    expect(session.engine.calibration?.single?.batch1Ms).toBeGreaterThan(0);
    const outputs = await session.run(tokens());
    expect(outputs.logits?.dims).toEqual([1, 2]);
  });

  it('honours a placement that is configured, and several sessions on workers', async () => {
    const forced = await load(SENTIMENT, {}, { placement: 'inline', inlineMaxMs: 0, maxBatch: 8 });
    expect(forced.engine).toMatchObject({ placement: 'inline', intraOpThreads: 1 });
    expect((await forced.run(tokens())).logits?.dims).toEqual([1, 2]);
    // A configured pool on the server thread is created with spinning off (config keys the binding must accept).
    const pooled = await load(SENTIMENT, { intraOpThreads: 2 }, { placement: 'inline', inlineMaxMs: 0, maxBatch: 8 });
    expect(pooled.engine).toMatchObject({ placement: 'inline', intraOpThreads: 2 });
    expect(values(await pooled.run(tokens()))).toEqual(values(await forced.run(tokens())));
    const several = await load(AIR_QUALITY, { sessions: 2 }, { placement: 'auto', inlineMaxMs: 1e6, maxBatch: 8 });
    expect(several.engine).toMatchObject({ placement: 'worker', sessions: 2 });
    expect(several.concurrency).toBe(2);
  });
});
