/**
 * An onnxruntime session on the server thread, for models whose whole call costs less than a
 * worker round trip (engine-choice.ts decides when). onnxruntime-node computes `run()` on the
 * calling thread, so each call blocks the event loop for its duration: that is why only
 * models measured under a bound come here.
 */
import { createRequire } from 'node:module';
import type * as Ort from 'onnxruntime-node';
import { measureCallCost } from './calibrate.js';
import type { CallCost } from './engine-choice.js';
import type { TensorData, ThreadSettings, WireMetadata } from './protocol.js';
import { Tensor } from './tensor.js';

type Feeds = Record<string, Tensor>;
type Outputs = Record<string, Tensor>;

let ort: typeof Ort | undefined;
/** Required on first use: a server whose models all run on workers never loads onnxruntime's JavaScript here. */
function onnxruntime(): typeof Ort {
  ort ??= createRequire(import.meta.url)('onnxruntime-node') as typeof Ort;
  return ort;
}

const describe = (meta: readonly Ort.InferenceSession.ValueMetadata[]): WireMetadata[] =>
  meta.map((m) => (m.isTensor ? { name: m.name, isTensor: true, type: m.type, shape: m.shape } : { name: m.name, isTensor: false }));

/**
 * A configured pool on the server thread must not spin between calls: its threads would take the
 * cores the event loop needs (onnxruntime's session config keys; the Node binding takes them flat).
 */
const NO_SPINNING = { 'session.intra_op.allow_spinning': '0', 'session.inter_op.allow_spinning': '0' };

/**
 * Models load at once, but their measurements on the server thread must not: each `await` of a
 * call lets another model's call run before the timer stops (four interleaved graphs of 0.06-0.2
 * ms all measured 0.53 ms at batch 8).
 */
let measuring: Promise<unknown> = Promise.resolve();

export class InlineEngine {
  private running = 0;

  private constructor(
    private readonly session: Ort.InferenceSession,
    readonly inputs: WireMetadata[],
    readonly outputs: WireMetadata[],
  ) {}

  static async create(file: string, threads: ThreadSettings): Promise<InlineEngine> {
    const runtime = onnxruntime();
    const inter = threads.interOpThreads ?? 1;
    const session = await runtime.InferenceSession.create(file, {
      executionProviders: ['cpu'],
      graphOptimizationLevel: 'all',
      executionMode: inter > 1 ? 'parallel' : 'sequential',
      intraOpNumThreads: threads.intraOpThreads ?? 0,
      interOpNumThreads: inter,
      extra: NO_SPINNING,
    });
    return new InlineEngine(session, describe(session.inputMetadata), describe(session.outputMetadata));
  }

  get busy(): number {
    return this.running;
  }

  /**
   * What one call costs here, on made-up inputs (calibrate.ts), before the engine is placed:
   * undefined when the inputs cannot be made up or a made-up input is out of the graph's range.
   */
  measure(maxBatch: number, skipAboveMs: number, giveUpMs: number): Promise<CallCost | undefined> {
    const measured = measuring.then(() => measureCallCost(onnxruntime().Tensor, this.session, maxBatch, skipAboveMs, giveUpMs).catch(() => undefined));
    measuring = measured;
    return measured;
  }

  async run(feeds: Feeds): Promise<Outputs> {
    const runtime = onnxruntime();
    const input: Record<string, Ort.Tensor> = {};
    for (const [name, tensor] of Object.entries(feeds)) input[name] = new runtime.Tensor(tensor.type as Ort.Tensor.Type, tensor.data as never, tensor.dims);
    this.running++;
    try {
      const results = await this.session.run(input);
      const outputs: Outputs = {};
      for (const [name, tensor] of Object.entries(results)) outputs[name] = new Tensor(tensor.type, tensor.data as TensorData, tensor.dims);
      return outputs;
    } catch (error) {
      throw new Error(`inference failed: ${(error as Error).message}`);
    } finally {
      this.running--;
    }
  }

  release(): Promise<void> {
    return this.session.release();
  }
}
