import { pino, type Logger, type LoggerOptions } from 'pino';
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

export function createLogger(options: { level?: string; destination?: NodeJS.WritableStream } = {}): Logger {
  const config: LoggerOptions = {
    level: options.level ?? process.env.LOG_LEVEL ?? 'info',
    base: { service: 'vigil' },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    formatters: { level: (label) => ({ level: label }) },
    // trace_id/span_id of the active span, so a log line leads to its trace (nothing when tracing is off).
    mixin: traceLogFields,
  };
  return options.destination ? pino(config, options.destination as pino.DestinationStream) : pino(config);
}
