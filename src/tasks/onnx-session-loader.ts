import path from 'node:path';
import type { ModelSpec } from '../models/spec.js';
import { OnnxSession } from '../runtimes/onnx/session.js';
import type { LoadOptions } from './types.js';

/**
 * The one way a task opens its ONNX graph: the spec's `onnx.file` next to the spec, with the
 * server's thread and session settings (`--threads`, `--inter-op-threads`, `--sessions`) over
 * the spec's own. Every onnx task calls this, so a setting added here reaches text, image and
 * tabular models alike (it once reached text only: `--sessions` gave images one session).
 * Placement (server thread or workers) is the spec's `onnx.placement` over the server's.
 */
export function loadOnnxSession(spec: ModelSpec, options: LoadOptions): Promise<OnnxSession> {
  if (!spec.onnx) return Promise.reject(new Error(`model "${spec.name}": task ${spec.task} needs an onnx runtime section`));
  return OnnxSession.load(path.resolve(options.dir, spec.onnx.file), {
    intraOpThreads: options.intraOpThreads ?? spec.onnx.intraOpThreads,
    interOpThreads: options.interOpThreads ?? spec.onnx.interOpThreads,
    sessions: options.sessions ?? spec.onnx.sessions,
  }, options.engine && { ...options.engine, placement: spec.onnx.placement ?? options.engine.placement });
}

/**
 * What every pipeline over one ONNX session answers the same way: its tensors as the graph
 * declares them, how many batches it runs at once, where its engine runs, and release.
 */
export abstract class OnnxPipeline {
  constructor(protected readonly session: OnnxSession) {}

  signature(): ReturnType<OnnxSession['describe']> {
    return this.session.describe();
  }

  /** One batch at a time per session: --sessions N lets the batcher run N at once. */
  get concurrency(): number {
    return this.session.concurrency;
  }

  get engine(): OnnxSession['engine'] {
    return this.session.engine;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
