import net from 'node:net';

/**
 * HTTP/1.1 requests as prepared bytes over a pool of keep-alive sockets, for load generators
 * only. A load generator on the machine it measures takes its CPU from the server: `node:http`'s
 * client costs tens of microseconds per request (a ClientRequest, an IncomingMessage, header
 * objects, streams), so an open loop offered at several times a small model's capacity spends a
 * core on itself and the figures describe the generator. Here a request is one prepared Buffer
 * written to an idle socket and an answer is read by scanning its bytes for the status line,
 * the headers a load test looks at (Content-Length, Transfer-Encoding, Retry-After, Connection)
 * and the end of its body; nothing else is parsed or allocated.
 *
 * One request at a time per connection, as `node:http`'s Agent does (no pipelining): a request
 * that finds no idle socket opens one up to `maxSockets`, else waits in order for the next
 * socket to come free. An answer with `Connection: close`, or a socket the server closed,
 * leaves the pool; the next request opens a new one.
 */

export interface RawAnswer {
  /** HTTP status; undefined when the request failed (then `error` says how). */
  status?: number;
  /** The answer carried Retry-After. */
  retryAfter: boolean;
  /** The answer said Connection: close. */
  close: boolean;
  /** ECONNRESET, ECONNREFUSED, EPIPE, CLIENT_TIMEOUT, CLOSED (the server closed before answering), BAD_RESPONSE. */
  error?: string;
}

/** The bytes of one request: written as they are, every time. */
export function rawRequest(options: { method: 'GET' | 'POST'; path: string; host: string; body?: string; contentType?: string }): Buffer {
  const body = options.body === undefined ? undefined : Buffer.from(options.body);
  const head =
    `${options.method} ${options.path} HTTP/1.1\r\nHost: ${options.host}\r\n` +
    (body ? `Content-Type: ${options.contentType ?? 'application/json'}\r\nContent-Length: ${body.length}\r\n` : '') +
    '\r\n';
  return body ? Buffer.concat([Buffer.from(head, 'latin1'), body]) : Buffer.from(head, 'latin1');
}

/** One prepared request to `url` (its path and query) per body, in order: what a load sends in turn. */
export function rawRequestsTo(url: URL, method: 'GET' | 'POST', bodies: readonly (string | undefined)[]): Buffer[] {
  return bodies.map((body) => rawRequest({ method, path: url.pathname + url.search, host: url.host, body }));
}

type Done = (answer: RawAnswer) => void;

interface Pending {
  bytes: Buffer;
  done: Done;
}

const CRLFCRLF = Buffer.from('\r\n\r\n');

/** The value of header `name` (lower case) in a head of latin1 text, or undefined. */
function headerValue(head: string, name: string): string | undefined {
  let at = head.indexOf('\r\n');
  while (at !== -1 && at < head.length) {
    const end = head.indexOf('\r\n', at + 2);
    const line = head.slice(at + 2, end === -1 ? head.length : end);
    const colon = line.indexOf(':');
    if (colon > 0 && line.slice(0, colon).trim().toLowerCase() === name) return line.slice(colon + 1).trim();
    at = end;
  }
  return undefined;
}

/** One keep-alive connection and the state of the answer it is reading. */
class Connection {
  readonly socket: net.Socket;
  private done: Done | undefined;
  private buffered: Buffer | undefined;
  /** Head parsed: the answer's status and what is left of its body. */
  private answer: RawAnswer | undefined;
  private bodyLeft = 0;
  private chunked = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  connected = false;
  closed = false;

  constructor(
    port: number,
    host: string,
    private readonly timeoutMs: number,
    private readonly onIdle: (connection: Connection) => void,
    private readonly onGone: (connection: Connection) => void,
  ) {
    this.socket = net.connect({ port, host, noDelay: true });
    this.socket.once('connect', () => (this.connected = true));
    this.socket.on('data', (chunk: Buffer) => this.read(chunk));
    this.socket.on('error', (error: NodeJS.ErrnoException) => this.fail(error.code ?? error.message));
    this.socket.on('close', () => this.fail('CLOSED'));
  }

  send(bytes: Buffer, done: Done): void {
    this.done = done;
    this.timer = setTimeout(() => this.fail('CLIENT_TIMEOUT'), this.timeoutMs);
    this.socket.write(bytes);
  }

  private read(chunk: Buffer): void {
    let data = this.buffered ? Buffer.concat([this.buffered, chunk]) : chunk;
    this.buffered = undefined;
    while (data.length > 0) {
      if (!this.answer) {
        const end = data.indexOf(CRLFCRLF);
        if (end === -1) {
          this.buffered = data;
          return;
        }
        const head = data.toString('latin1', 0, end);
        data = data.subarray(end + 4);
        const status = Number(head.slice(9, 12));
        if (!head.startsWith('HTTP/1.') || !(status >= 100 && status < 600)) return this.fail('BAD_RESPONSE');
        const connection = headerValue(head, 'connection');
        this.answer = { status, retryAfter: headerValue(head, 'retry-after') !== undefined, close: connection?.toLowerCase() === 'close' };
        this.chunked = headerValue(head, 'transfer-encoding')?.toLowerCase().includes('chunked') ?? false;
        this.bodyLeft = this.chunked ? 0 : Number(headerValue(head, 'content-length') ?? 0);
      }
      if (this.chunked) {
        // Each chunk: its size in hex, CRLF, the bytes, CRLF; a size of 0 (then CRLF CRLF) ends it.
        if (this.bodyLeft > 0) {
          const take = Math.min(this.bodyLeft, data.length);
          this.bodyLeft -= take;
          data = data.subarray(take);
          if (this.bodyLeft > 0) return;
          continue;
        }
        const lineEnd = data.indexOf('\r\n');
        if (lineEnd === -1) {
          this.buffered = data;
          return;
        }
        if (lineEnd === 0) {
          data = data.subarray(2); // the CRLF after a chunk's bytes
          continue;
        }
        const size = parseInt(data.toString('latin1', 0, lineEnd), 16);
        if (!Number.isFinite(size)) return this.fail('BAD_RESPONSE');
        if (size === 0) {
          const trailerEnd = data.indexOf(CRLFCRLF);
          if (trailerEnd === -1) {
            this.buffered = data;
            return;
          }
          data = data.subarray(trailerEnd + 4);
          this.finish();
          continue;
        }
        this.bodyLeft = size;
        data = data.subarray(lineEnd + 2);
        continue;
      }
      const take = Math.min(this.bodyLeft, data.length);
      this.bodyLeft -= take;
      data = data.subarray(take);
      if (this.bodyLeft > 0) return;
      this.finish();
    }
  }

  private finish(): void {
    const answer = this.answer!;
    const done = this.done;
    this.answer = undefined;
    this.done = undefined;
    clearTimeout(this.timer);
    if (answer.close) this.end();
    done?.(answer);
    // An answer nobody asked for (a 408 on an idle socket) leaves the socket where it was.
    if (!this.closed && done) this.onIdle(this);
  }

  private fail(error: string): void {
    const done = this.done;
    this.done = undefined;
    this.answer = undefined;
    clearTimeout(this.timer);
    this.end();
    done?.({ error: error === 'CLOSED' && !this.connected ? 'ECONNREFUSED' : error, retryAfter: false, close: true });
  }

  private end(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.destroy();
    this.onGone(this);
  }
}

export class RawHttpPool {
  private readonly idle: Connection[] = [];
  private readonly all = new Set<Connection>();
  private readonly waiting: Pending[] = [];
  private destroyed = false;

  constructor(
    private readonly target: { host: string; port: number },
    private readonly options: { maxSockets: number; timeoutMs?: number },
  ) {}

  /** A pool of connections to the host and port of `url`. */
  static to(url: URL, options: { maxSockets: number; timeoutMs?: number }): RawHttpPool {
    return new RawHttpPool({ host: url.hostname, port: Number(url.port) }, options);
  }

  /** Open connections now. */
  get sockets(): number {
    return this.all.size;
  }

  request(bytes: Buffer): Promise<RawAnswer> {
    return new Promise((done) => this.dispatch({ bytes, done }));
  }

  destroy(): void {
    this.destroyed = true;
    for (const connection of this.all) connection.socket.destroy();
    for (const pending of this.waiting.splice(0)) pending.done({ error: 'CLOSED', retryAfter: false, close: true });
  }

  private dispatch(pending: Pending): void {
    if (this.destroyed) return pending.done({ error: 'CLOSED', retryAfter: false, close: true });
    const connection = this.idle.pop() ?? (this.all.size < this.options.maxSockets ? this.open() : undefined);
    if (connection) connection.send(pending.bytes, pending.done);
    else this.waiting.push(pending);
  }

  private open(): Connection {
    const connection = new Connection(
      this.target.port,
      this.target.host,
      this.options.timeoutMs ?? 30_000,
      (free) => {
        const next = this.waiting.shift();
        if (next) free.send(next.bytes, next.done);
        else this.idle.push(free);
      },
      (gone) => {
        this.all.delete(gone);
        const at = this.idle.indexOf(gone);
        if (at !== -1) this.idle.splice(at, 1);
        // A request waiting for a socket gets a new one in place of the one that went.
        const next = this.waiting.shift();
        if (next) this.dispatch(next);
      },
    );
    this.all.add(connection);
    return connection;
  }
}
