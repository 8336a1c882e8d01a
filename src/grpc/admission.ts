import { Overloaded } from '../errors.js';
import type { ServerContext } from '../http/context.js';

/**
 * The gRPC side of admission (src/serving/admission.ts): the same in-flight bounds as REST,
 * for the whole process and per model, shared with the HTTP listener (one Admission per
 * server). A refused call is UNAVAILABLE with `retry-after` in its trailers, counted in
 * vigil_requests_shed_total and the shed summary like a refused REST request. Health calls
 * are never bounded. Checked once the message is decoded (grpc-js decodes before any
 * handler runs), which is the earliest point the model name is known.
 */
export async function admitted<T>(context: ServerContext, model: string | undefined, run: () => Promise<T>): Promise<T> {
  const { admission, metrics, shedLog, registry } = context;
  const refusal = admission.admit(model);
  if (refusal) {
    // Only served models become label values: the name comes from the client's message.
    const known = model !== undefined && registry.has(model) ? model : undefined;
    metrics.shed.inc({ model: known ?? '', version: '', reason: refusal.reason });
    shedLog.record(refusal.reason, known);
    throw new Overloaded(refusal.message, refusal.retryAfterSeconds);
  }
  try {
    return await run();
  } finally {
    admission.release(model);
  }
}
