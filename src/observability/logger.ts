import { pino, type Logger, type LoggerOptions } from 'pino';
import { scrubPII, scrubValue } from './pii.js';
import { traceLogFields } from './tracing.js';

export type { Logger };

/**
 * Paths whose values must never reach a log line, wherever a caller happens to put them.
 * Request bodies are not logged at all; these cover headers and config objects.
 */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers["x-admin-token"]',
  'req.headers.cookie',
  'headers.authorization',
  'token',
  'hfToken',
  'adminToken',
  '*.token',
  '*.hfToken',
  '*.adminToken',
  '*.apiKey',
];

/** Scrubs the message arguments; an error logged alone keeps its (scrubbed) message as the line's msg. */
function scrubbingLogMethod(this: Logger, args: unknown[], method: (...args: unknown[]) => void): void {
  const [first, ...rest] = args;
  if (first instanceof Error) {
    const msg = typeof rest[0] === 'string' ? rest.shift() : first.message;
    return method.apply(this, [{ err: scrubValue(first) }, scrubPII(String(msg)), ...rest.map((a) => (typeof a === 'string' ? scrubPII(a) : a))]);
  }
  const scrubbed = args.map((a) => (typeof a === 'string' ? scrubPII(a) : a));
  const err = typeof first === 'object' && first !== null ? (first as { err?: unknown }).err : undefined;
  if (err instanceof Error && scrubbed.length === 1) scrubbed.push(scrubPII(err.message));
  return method.apply(this, scrubbed);
}

export function createLogger(options: { level?: string; destination?: NodeJS.WritableStream } = {}): Logger {
  const config: LoggerOptions = {
    level: options.level ?? process.env.LOG_LEVEL ?? 'info',
    base: { service: 'vigil' },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    // PII scrubbing by value (src/observability/pii.ts): every string field, and the message.
    formatters: { level: (label) => ({ level: label }), log: (object) => scrubValue(object) as Record<string, unknown> },
    hooks: { logMethod: scrubbingLogMethod },
    // trace_id/span_id of the active span, so a log line leads to its trace (nothing when tracing is off).
    mixin: traceLogFields,
  };
  return options.destination ? pino(config, options.destination as pino.DestinationStream) : pino(config);
}
