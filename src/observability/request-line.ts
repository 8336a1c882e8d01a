import { rawLineWriter, type Logger } from './logger.js';
import { scrubPII } from './pii.js';
import { traceLogFields } from './tracing.js';

/** What the one log line per request says (registerObservation in src/http/observe.ts). */
export interface RequestLine {
  requestId: string;
  method: string;
  route: string;
  status: number;
  latencyMs: number;
  /** The client left before its response was complete (status 499). */
  clientAborted?: boolean;
}

/** The request's own logger (fastify's child bound to its request id), for lines pino writes. */
export interface RequestLogger {
  info(fields: object, msg: string): void;
}

/**
 * The request line, formatted here instead of by pino: its shape never changes, and pino's
 * general path (merge, the scrubbing formatter over every field, the redaction pass, the mixin)
 * cost ~7 µs a line on the 2-core CI machine, most of what a small model's logging cost
 * (docs/performance.md), against ~1 µs for this. The output is byte for byte what pino writes
 * for `child({ request_id }).info({ method, route, status, latency_ms }, 'request')`
 * (test/unit/request-line.test.ts compares the two), with the same PII scrubbing of every
 * string. When tracing puts a span on the line, or the logger is not one of createLogger's,
 * the line goes through pino as before.
 */
export function requestLineWriter(root: Logger): (line: RequestLine, requestLog: RequestLogger) => void {
  const raw = rawLineWriter(root);
  const isoTime = isoTimeOfNow();
  // Methods (Node's parser knows a fixed set) and route templates are a bounded set of strings:
  // each is scrubbed and quoted once (0.4 µs a line otherwise; a template such as /v1/... holds
  // a digit, which sends it through the scrubber's rules).
  const quoted = new Map<string, string>();
  const quote = (text: string) => {
    let json = quoted.get(text);
    if (json === undefined) {
      json = JSON.stringify(scrubPII(text));
      quoted.set(text, json);
    }
    return json;
  };
  // The root's own bindings (service), as pino writes them after level and time.
  const bindings = JSON.stringify(root.bindings()).slice(1, -1);
  const afterTime = bindings === '' ? '' : `,${bindings}`;
  return (line, requestLog) => {
    // fastify's children keep their root's level (no route sets its own).
    if (!root.isLevelEnabled('info')) return;
    const latencyMs = Number(line.latencyMs.toFixed(3));
    if (raw === undefined || traceLogFields().trace_id !== undefined) {
      const fields: Record<string, unknown> = { method: line.method, route: line.route, status: line.status, latency_ms: latencyMs };
      if (line.clientAborted) fields.client_aborted = true;
      requestLog.info(fields, 'request');
      return;
    }
    let text = `{"level":"info","time":"${isoTime()}"${afterTime},"request_id":${JSON.stringify(scrubPII(line.requestId))}`;
    text += `,"method":${quote(line.method)},"route":${quote(line.route)},"status":${line.status},"latency_ms":${latencyMs}`;
    if (line.clientAborted) text += ',"client_aborted":true';
    raw(`${text},"msg":"request"}\n`);
  };
}

/**
 * `new Date().toISOString()` (pino's isoTime), ~1 µs a call on the CI machine: the text up to
 * the second is kept and only the milliseconds are written for each line.
 */
export function isoTimeOfNow(now: () => number = Date.now): () => string {
  let second = Number.NaN;
  let prefix = '';
  return () => {
    const ms = now();
    const s = Math.floor(ms / 1000);
    if (s !== second) {
      second = s;
      // "2026-12-03T14:28:52." from "2026-12-03T14:28:52.000Z"
      prefix = new Date(s * 1000).toISOString().slice(0, -4);
    }
    const frac = ms - s * 1000;
    return `${prefix}${frac < 10 ? '00' : frac < 100 ? '0' : ''}${frac}Z`;
  };
}
