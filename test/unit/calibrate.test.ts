import type * as Ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { measureCallCost } from '../../src/runtimes/onnx/calibrate.js';

/** Stands in for onnxruntime's Tensor: the calibration only builds feeds with it. */
class FakeTensor {
  constructor(
    readonly type: string,
    readonly data: unknown,
    readonly dims: readonly number[],
  ) {}
}

/** A session whose every call busy-waits `callMs` on this thread, as an inline onnxruntime call does. */
function sessionTaking(callMs: number) {
  const batches: number[] = [];
  const session = {
    inputMetadata: [{ name: 'features', isTensor: true, type: 'float32', shape: ['batch', 4] }],
    async run(feeds: Record<string, FakeTensor>) {
      batches.push(feeds.features!.dims[0]!);
      const until = performance.now() + callMs;
      while (performance.now() < until);
      return {};
    },
  };
  return { session: session as unknown as Ort.InferenceSession, batches };
}

const tensor = FakeTensor as unknown as typeof Ort.Tensor;

describe('measuring a call', () => {
  it('times batch 1 and the largest batch, a warm-up call first', async () => {
    const { session, batches } = sessionTaking(0);
    const cost = await measureCallCost(tensor, session, 8, 1);
    expect(cost?.batchMaxMs).toBeDefined();
    expect(batches.filter((b) => b === 1).length).toBeGreaterThanOrEqual(4);
    expect(batches.filter((b) => b === 8).length).toBeGreaterThanOrEqual(4);
  });

  it('gives up at the first timed call over the give-up bound, and skips the largest batch', async () => {
    const { session, batches } = sessionTaking(30);
    const cost = await measureCallCost(tensor, session, 8, 1, 20);
    // The warm-up call and one timed call: the event loop was held for two calls, not the budget.
    expect(batches).toEqual([1, 1]);
    expect(cost?.batch1Ms).toBeGreaterThanOrEqual(30);
    expect(cost?.batchMaxMs).toBeUndefined();
  });

  it('without a give-up bound, measures a slow call at least three times', async () => {
    const { session, batches } = sessionTaking(30);
    await measureCallCost(tensor, session, 8, 1);
    expect(batches.length).toBeGreaterThanOrEqual(4);
    expect(batches.every((b) => b === 1)).toBe(true);
  });

  it('cannot make up inputs it does not know', async () => {
    const { session } = sessionTaking(0);
    (session.inputMetadata as unknown as { isTensor: boolean }[])[0]!.isTensor = false;
    expect(await measureCallCost(tensor, session, 8, 1)).toBeUndefined();
  });
});
