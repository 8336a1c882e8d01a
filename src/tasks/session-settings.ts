import type { ModelSpec } from '../models/spec.js';
import type { SessionSettings } from '../runtimes/onnx/session.js';
import type { LoadOptions } from './types.js';

/** One model's onnxruntime settings: the server's flags win over the spec's `onnx` section. */
export function sessionSettings(onnx: NonNullable<ModelSpec['onnx']>, options: LoadOptions): SessionSettings {
  return {
    intraOpThreads: options.intraOpThreads ?? onnx.intraOpThreads,
    interOpThreads: options.interOpThreads ?? onnx.interOpThreads,
    lowMemory: options.lowMemory,
  };
}
