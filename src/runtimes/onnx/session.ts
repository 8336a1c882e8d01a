import * as ort from 'onnxruntime-node';
import type { TensorSpec } from '../../models/spec.js';

export type Feeds = Record<string, ort.Tensor>;
export type Outputs = Record<string, ort.Tensor>;
export { ort };

export interface ThreadSettings {
  /** Threads inside one operator (matrix multiplications). 0 lets onnxruntime pick (one per core). */
  intraOpThreads?: number;
  /** Threads across independent operators; only used when the graph has parallel branches. */
  interOpThreads?: number;
}

const ORT_TO_OIP: Record<string, TensorSpec['datatype']> = {
  float32: 'FP32',
  float64: 'FP64',
  float16: 'FP16',
  int64: 'INT64',
  int32: 'INT32',
  int16: 'INT16',
  int8: 'INT8',
  uint8: 'UINT8',
  bool: 'BOOL',
  string: 'BYTES',
};

/**
 * One onnxruntime-node session on CPU. It knows nothing about tasks or HTTP: tensors in,
 * tensors out. onnxruntime runs `run()` off the JS thread, so the event loop stays free.
 */
export class OnnxSession {
  private constructor(
    private readonly session: ort.InferenceSession,
    readonly file: string,
  ) {}

  static async load(file: string, threads: ThreadSettings = {}): Promise<OnnxSession> {
    const session = await ort.InferenceSession.create(file, {
      executionProviders: ['cpu'],
      graphOptimizationLevel: 'all',
      executionMode: (threads.interOpThreads ?? 1) > 1 ? 'parallel' : 'sequential',
      intraOpNumThreads: threads.intraOpThreads ?? 0,
      interOpNumThreads: threads.interOpThreads ?? 1,
    });
    return new OnnxSession(session, file);
  }

  get inputNames(): readonly string[] {
    return this.session.inputNames;
  }

  get outputNames(): readonly string[] {
    return this.session.outputNames;
  }

  /** The graph's own view of its inputs and outputs, in the Open Inference Protocol's terms. */
  describe(): { inputs: TensorSpec[]; outputs: TensorSpec[] } {
    const toSpec = (meta: ort.InferenceSession.ValueMetadata): TensorSpec => {
      if (!meta.isTensor) return { name: meta.name, datatype: 'BYTES', shape: [-1] };
      return {
        name: meta.name,
        datatype: ORT_TO_OIP[meta.type] ?? 'FP32',
        shape: meta.shape.map((d) => (typeof d === 'number' && d > 0 ? d : -1)),
      };
    };
    return { inputs: this.session.inputMetadata.map(toSpec), outputs: this.session.outputMetadata.map(toSpec) };
  }

  async run(feeds: Feeds): Promise<Outputs> {
    return this.session.run(feeds) as Promise<Outputs>;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
