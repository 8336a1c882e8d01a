import { pino, type Logger, type LoggerOptions } from 'pino';
import { REDACTED, scrubPII, scrubValue } from './pii.js';
import { traceLogFields } from './tracing.js';

export type { Logger };

/**
 * Paths whose values must never reach a log line. Request bodies are not logged at all; these
 * cover headers. Secret keys anywhere in a logged object (`token`, `hfToken`, `adminToken`,
 * `apiKey`: config objects) are replaced by scrubValue (SECRET_KEYS in pii.ts) rather than by
 * wildcard paths here, which would cost pino a redaction pass over every field of every line.
 */
export const REDACTED_PATHS = ['req.headers.authorization', 'req.headers["x-admin-token"]', 'req.headers.cookie', 'headers.authorization'];

/** pino's default merge, minus the copy when the mixin has nothing to add (tracing off: every line). */
function mergeMixin(mergeObject: object, mixinObject: object): object {
  for (const _ in mixinObject) return Object.assign(mixinObject, mergeObject);
  return mergeObject;
}

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

/**
 * stdout in chunks, as nginx and Envoy write access logs: up to 4 KiB at a time, whatever is
 * there after at most 100 ms, and the rest at exit (pino flushes on exit). One write per line
 * (a thread-pool write and its completion waking the event loop for every request) was ~8 %
 * of the server thread at 800 requests/s to the small sentiment model.
 */
const WRITE_CHUNK_BYTES = 4096;
const FLUSH_INTERVAL_MS = 100;

function chunkedStdout(): { destination: pino.DestinationStream; wrote: (line: string) => string } {
  const destination = pino.destination({ dest: 1, minLength: WRITE_CHUNK_BYTES, sync: false });
  let pending = false;
  setInterval(() => {
    if (!pending) return;
    pending = false;
    destination.flush();
  }, FLUSH_INTERVAL_MS).unref();
  return {
    destination,
    wrote: (line) => {
      pending = true;
      return line;
    },
  };
}

/**
 * Writes what the logger still buffers, asynchronously, before the process exits. Left to
 * pino's exit handler, the last lines (a shutdown's) go out with a synchronous flush, and
 * sonic-boom's synchronous flush retries a failed write forever when the reader of stdout has
 * gone (EPIPE): `vigil serve` then never exited after SIGTERM. An asynchronous write that fails
 * with EPIPE is what pino handles (it stops logging), and the exit handler has nothing left to
 * write. Resolves after at most `timeoutMs` whatever the stream does.
 */
export function flushLog(logger: Logger, timeoutMs = 2000): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, timeoutMs);
    timer.unref();
    try {
      logger.flush(() => {
        clearTimeout(timer);
        resolve();
      });
    } catch {
      clearTimeout(timer);
      resolve();
    }
  });
}

export function createLogger(options: { level?: string; destination?: NodeJS.WritableStream } = {}): Logger {
  const stdout = options.destination ? undefined : chunkedStdout();
  const config: LoggerOptions = {
    level: options.level ?? process.env.LOG_LEVEL ?? 'info',
    base: { service: 'vigil' },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: REDACTED_PATHS, censor: REDACTED },
    // PII scrubbing by value (src/observability/pii.ts): every string field, and the message;
    // child bindings too (a request's child logger carries the request id, which a client may choose).
    formatters: { level: (label) => ({ level: label }), log: (object) => scrubValue(object) as Record<string, unknown> },
    hooks: { logMethod: scrubbingLogMethod, ...(stdout ? { streamWrite: stdout.wrote } : {}) },
    // trace_id/span_id of the active span, so a log line leads to its trace (nothing when tracing is off).
    mixin: traceLogFields,
    mixinMergeStrategy: mergeMixin,
  };
  const logger = pino(config, stdout?.destination ?? (options.destination as pino.DestinationStream));
  scrubChildBindings(logger);
  return logger;
}

/**
 * pino formats a child's bindings once, when the child is made, and applies no formatter to
 * them; fastify makes one child per request bound to its request id, which a client may
 * choose (x-request-id). Children inherit this `child` from the root, so every binding at any
 * depth is scrubbed like a logged field.
 */
function scrubChildBindings(logger: Logger): void {
  const child = logger.child;
  logger.child = function scrubbedChild(this: Logger, bindings, options) {
    return child.call(this, scrubValue(bindings) as typeof bindings, options);
  } as typeof logger.child;
}
