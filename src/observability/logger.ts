import { writeSync } from 'node:fs';
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
 * stdout in chunks, as nginx and Envoy write access logs: up to 16 KiB at a time, whatever is
 * there after at most 100 ms, and the rest at exit. One write per line (a thread-pool write and
 * its completion waking the event loop for every request) was ~8 % of the server thread at 800
 * requests/s to the small sentiment model.
 *
 * The chunk is gathered here, not by sonic-boom's `minLength`: sonic-boom measures the byte
 * length of its whole pending buffer (up to 16 KiB) at every write, ~5 µs a line on the 2-core
 * CI machine, more than formatting the line. Here a line costs a string append, and sonic-boom
 * sees one Buffer per chunk (16 KiB, its largest single write). flush hands the chunk over
 * first and flushSync (pino's exit handler) writes it itself, so every line is written.
 */
const WRITE_CHUNK_BYTES = 16384;
const FLUSH_INTERVAL_MS = 100;
const STDOUT = 1;
/** How long a synchronous write at exit waits for a full pipe to drain, at most. */
const EXIT_WRITE_PATIENCE_MS = 2000;

/**
 * Writes all of `bytes` synchronously. stdout may be a non-blocking pipe (Node makes it one),
 * so a full pipe answers EAGAIN: wait a millisecond and retry, for a bounded time. A reader
 * that has gone (EPIPE) or any other error ends it: these are a process's last log lines.
 */
function writeNow(fd: number, bytes: Buffer): void {
  const pause = new Int32Array(new SharedArrayBuffer(4));
  const giveUpAt = Date.now() + EXIT_WRITE_PATIENCE_MS;
  let offset = 0;
  while (offset < bytes.length) {
    try {
      offset += writeSync(fd, bytes, offset);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EAGAIN' || Date.now() > giveUpAt) return;
      Atomics.wait(pause, 0, 0, 1);
    }
  }
}

function chunkedStdout(): pino.DestinationStream {
  // Buffer mode: the chunk is encoded once here; given a string, sonic-boom measures it, encodes
  // it to write it and encodes it again when the write completes.
  // minLength 1, not 0: each chunk is written at once either way, but with 0 sonic-boom's flush
  // calls back before the writes in flight are done, and flushLog() must wait for them.
  const destination = pino.destination({ dest: STDOUT, minLength: 1, sync: false, contentMode: 'buffer' });
  const write = destination.write.bind(destination);
  const flush = destination.flush.bind(destination);
  const flushSync = destination.flushSync.bind(destination);
  // Characters, not bytes: a bound on when to write, which need not be exact.
  let chunk = '';
  const takeChunk = () => {
    const lines = Buffer.from(chunk);
    chunk = '';
    return lines;
  };
  const handOver = () => (chunk === '' ? true : write(takeChunk() as unknown as string));
  destination.write = (line: string) => {
    chunk += line;
    return chunk.length >= WRITE_CHUNK_BYTES ? handOver() : true;
  };
  destination.flush = (callback?: (error?: Error) => void) => {
    handOver();
    flush(callback);
  };
  // At exit (pino's exit handler): sonic-boom's own bytes, then the chunk, written here and now.
  // Handed to sonic-boom instead, the chunk became an asynchronous write that the exiting
  // process never finished, and the last lines of a short command were lost under load.
  destination.flushSync = () => {
    flushSync();
    if (chunk !== '') writeNow(STDOUT, takeChunk());
  };
  setInterval(handOver, FLUSH_INTERVAL_MS).unref();
  return destination;
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

/** Where a logger's lines go, for lines formatted by hand (request-line.ts). */
const rawWriters = new WeakMap<Logger, (line: string) => void>();

/**
 * Writes a line the caller formatted itself to where `logger` (a root from createLogger)
 * writes, in the same chunks; undefined for any other logger. Only for a line whose shape is
 * fixed and whose every field the caller has scrubbed.
 */
export function rawLineWriter(logger: Logger): ((line: string) => void) | undefined {
  return rawWriters.get(logger);
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
    hooks: { logMethod: scrubbingLogMethod },
    // trace_id/span_id of the active span, so a log line leads to its trace (nothing when tracing is off).
    mixin: traceLogFields,
    mixinMergeStrategy: mergeMixin,
  };
  const destination = stdout ?? (options.destination as pino.DestinationStream);
  const logger = pino(config, destination);
  scrubChildBindings(logger);
  rawWriters.set(logger, (line) => destination.write(line));
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
