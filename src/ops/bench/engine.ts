/**
 * The engine ceiling: onnxruntime-node alone, in a loop, no HTTP and no batcher. The same
 * tokenizer and the same padding as Vigil's text-classification pipeline (pad to the longest
 * text of each batch), so the only difference from serving is everything around the engine.
 * Each session runs on its own worker thread, as in Vigil.
 */
import { fileURLToPath } from 'node:url';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { loadTokenizer } from '../../tasks/tokenizer.js';

export interface EngineLoopOptions {
  modelFile: string;
  /** Folder holding tokenizer.json. */
  tokenizerDir: string;
  texts: string[];
  batch: number;
  /** intraOpNumThreads per session. */
  threads: number;
  /** Sessions looping at once, each on its own worker thread. */
  sessions: number;
  durationSeconds: number;
  /** Measured windows of durationSeconds each, on the same sessions (default 1). */
  repeats?: number;
  maxLength?: number;
}

export interface EngineLoopResult {
  batch: number;
  threads: number;
  sessions: number;
  /** Texts per second over all sessions: the median window. */
  inputsPerSecond: number;
  /** Texts per second of each window. */
  windows: number[];
  /** Median milliseconds per engine call. */
  msPerCallP50: number;
  /** Mean padded sequence length of the batches. */
  meanWidth: number;
}

interface WireBatch {
  ids: BigInt64Array;
  mask: BigInt64Array;
  dims: [number, number];
}

interface LoopInit {
  kind: 'vigil-engine-loop';
  modelFile: string;
  threads: number;
  batches: WireBatch[];
  durationSeconds: number;
  repeats: number;
}

/** Batches of `size` texts in order, each padded to its longest text. */
function makeBatches(encoded: number[][], size: number, padId: number): WireBatch[] {
  const batches: WireBatch[] = [];
  for (let start = 0; start + size <= encoded.length; start += size) {
    const rows = encoded.slice(start, start + size);
    const width = Math.max(...rows.map((r) => r.length));
    const ids = new BigInt64Array(size * width);
    const mask = new BigInt64Array(size * width);
    rows.forEach((row, r) => {
      for (let c = 0; c < width; c++) {
        const id = row[c];
        ids[r * width + c] = BigInt(id ?? padId);
        mask[r * width + c] = id === undefined ? 0n : 1n;
      }
    });
    batches.push({ ids, mask, dims: [size, width] });
  }
  return batches;
}

export async function engineLoop(options: EngineLoopOptions): Promise<EngineLoopResult> {
  const tokenizer = await loadTokenizer(options.tokenizerDir);
  const maxLength = Math.min(options.maxLength ?? tokenizer.modelMaxLength, tokenizer.modelMaxLength);
  let encoded = options.texts.map((t) => tokenizer.encode(t, maxLength).ids);
  while (encoded.length < options.batch * 4) encoded = encoded.concat(encoded);
  const batches = makeBatches(encoded, options.batch, tokenizer.padId);
  const meanWidth = batches.reduce((sum, b) => sum + b.dims[1], 0) / batches.length;
  const file = fileURLToPath(import.meta.url);
  const runs = await Promise.all(
    Array.from({ length: options.sessions }, (_, i) => {
      // Each session starts at its own offset so parallel sessions do not run identical batches.
      const rotated = batches.slice(i * 7 % batches.length).concat(batches.slice(0, i * 7 % batches.length));
      const init: LoopInit = {
        kind: 'vigil-engine-loop',
        modelFile: options.modelFile,
        threads: options.threads,
        batches: rotated,
        durationSeconds: options.durationSeconds,
        repeats: options.repeats ?? 1,
      };
      return new Promise<{ windows: { inputs: number; seconds: number }[]; callsMs: number[] }>((resolve, reject) => {
        const worker = new Worker(file, { workerData: init });
        worker.once('message', resolve);
        worker.once('error', reject);
        worker.once('exit', (code) => code !== 0 && reject(new Error(`engine loop worker exited with ${code}`)));
      });
    }),
  );
  const windows = Array.from({ length: options.repeats ?? 1 }, (_, w) =>
    runs.reduce((sum, r) => sum + (r.windows[w] ? r.windows[w]!.inputs / r.windows[w]!.seconds : 0), 0),
  );
  const sorted = [...windows].sort((a, b) => a - b);
  const inputsPerSecond = sorted[Math.floor((sorted.length - 1) / 2)]!;
  const calls = runs.flatMap((r) => r.callsMs).sort((a, b) => a - b);
  return {
    batch: options.batch,
    threads: options.threads,
    sessions: options.sessions,
    inputsPerSecond,
    windows,
    msPerCallP50: calls[Math.floor(calls.length / 2)] ?? 0,
    meanWidth,
  };
}

async function loopInWorker(init: LoopInit): Promise<void> {
  const session = await ort.InferenceSession.create(init.modelFile, {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    intraOpNumThreads: init.threads,
    interOpNumThreads: 1,
  });
  const withMask = session.inputNames.includes('attention_mask');
  const feedsOf = (b: WireBatch) => {
    const feeds: Record<string, ort.Tensor> = { input_ids: new ort.Tensor('int64', b.ids, b.dims) };
    if (withMask) feeds.attention_mask = new ort.Tensor('int64', b.mask, b.dims);
    return feeds;
  };
  const feeds = init.batches.map(feedsOf);
  // Warm-up: first calls allocate and pick kernels.
  for (let i = 0; i < Math.min(3, feeds.length); i++) await session.run(feeds[i]!);
  const callsMs: number[] = [];
  const windows: { inputs: number; seconds: number }[] = [];
  let i = 0;
  for (let w = 0; w < init.repeats; w++) {
    let inputs = 0;
    const started = performance.now();
    const end = started + init.durationSeconds * 1000;
    for (; performance.now() < end; i++) {
      const f = feeds[i % feeds.length]!;
      const t = performance.now();
      await session.run(f);
      callsMs.push(performance.now() - t);
      inputs += f.input_ids!.dims[0]!;
    }
    windows.push({ inputs, seconds: (performance.now() - started) / 1000 });
  }
  await session.release();
  parentPort!.postMessage({ windows, callsMs });
}

if (!isMainThread && (workerData as LoopInit | undefined)?.kind === 'vigil-engine-loop') {
  void loopInWorker(workerData as LoopInit);
}
