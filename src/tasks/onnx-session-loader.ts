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
