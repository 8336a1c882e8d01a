/**
 * Measures what one engine call of a freshly loaded session costs, on inputs made from the
 * graph's own metadata, so the engine can be placed and sized before the first request
 * (engine-choice.ts decides). Runs where the session is: in the inference worker, or on the
 * server thread for a small graph (inline.ts), where `giveUpMs` ends it at the first call that
 * shows the graph does not belong there.
 */
import type * as Ort from 'onnxruntime-node';
import type { CallCost } from './engine-choice.js';

/** A symbolic dimension other than the batch (a sequence) is measured at this length: a typical short text. */
const SYMBOLIC_LENGTH = 32;

/** Time spent measuring one setting at one batch size, at most (the whole calibration stays well under a second). */
const BUDGET_MS = 150;
const MAX_RUNS = 25;

/** Above this at batch 1, the pool is kept without loading a second session to compare (big graphs: memory and time). */
export const COMPARE_SINGLE_MAX_MS = 5;

type Ctor = typeof Ort.Tensor;

function filled(type: string, size: number): Ort.Tensor.DataType | undefined {
  switch (type) {
    case 'float32':
      return new Float32Array(size).fill(0.5);
    case 'float64':
      return new Float64Array(size).fill(0.5);
    case 'int64':
      // 1: a valid token id, row index or category in any graph we serve.
      return new BigInt64Array(size).fill(1n);
    case 'int32':
      return new Int32Array(size).fill(1);
    case 'int8':
      return new Int8Array(size).fill(1);
    case 'uint8':
    case 'bool':
      return new Uint8Array(size).fill(1);
    default:
      return undefined;
  }
}

/**
 * Inputs for a call at this batch size, or undefined when a graph's input cannot be made up
 * (strings, a fixed first dimension other than 1 when asked for a larger batch, unknown types).
 */
export function syntheticFeeds(tensor: Ctor, inputs: readonly Ort.InferenceSession.ValueMetadata[], batch: number): Record<string, Ort.Tensor> | undefined {
  const feeds: Record<string, Ort.Tensor> = {};
  for (const input of inputs) {
    if (!input.isTensor) return undefined;
    const dims = input.shape.map((d, i) => {
      if (typeof d === 'number' && d > 0) return i === 0 && batch > 1 ? -1 : d;
      return i === 0 ? batch : SYMBOLIC_LENGTH;
    });
    if (dims.some((d) => d < 0)) return undefined;
    const data = filled(input.type, dims.reduce((a, b) => a * b, 1));
    if (!data) return undefined;
    feeds[input.name] = new tensor(input.type as Ort.Tensor.Type, data as never, dims);
  }
  return feeds;
}

/** Median time of repeated calls (after one untimed call), within the budget; a call over `giveUpMs` is returned at once. */
async function medianMs(session: Ort.InferenceSession, feeds: Record<string, Ort.Tensor>, giveUpMs: number): Promise<number> {
  await session.run(feeds);
  const times: number[] = [];
  const started = performance.now();
  while (times.length < MAX_RUNS && (times.length < 3 || performance.now() - started < BUDGET_MS)) {
    const t0 = performance.now();
    await session.run(feeds);
    const elapsed = performance.now() - t0;
    if (elapsed > giveUpMs) return elapsed;
    times.push(elapsed);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

/**
 * The cost at batch 1 and at `maxBatch`. The largest batch is skipped when batch 1 alone is
 * already over `skipAboveMs` (the model cannot run inline anyway).
 */
export async function measureCallCost(tensor: Ctor, session: Ort.InferenceSession, maxBatch: number, skipAboveMs: number, giveUpMs = Infinity): Promise<CallCost | undefined> {
  const one = syntheticFeeds(tensor, session.inputMetadata, 1);
  if (!one) return undefined;
  const batch1Ms = await medianMs(session, one, giveUpMs);
  if (maxBatch <= 1) return { batch1Ms, batchMaxMs: batch1Ms };
  const many = batch1Ms <= skipAboveMs ? syntheticFeeds(tensor, session.inputMetadata, maxBatch) : undefined;
  return many ? { batch1Ms, batchMaxMs: await medianMs(session, many, giveUpMs) } : { batch1Ms };
}
