import net from 'node:net';

/**
 * An HTTP/1.1 client at the byte level, for what fetch cannot do: send headers and hold the
 * body back, trickle it, keep a connection idle, and tell a clean close (FIN) from a reset.
 */
export interface RawConnection {
  socket: net.Socket;
  /** Everything received so far, as text. */
  received(): string;
  /** Resolves once `count` complete responses (by Content-Length) have arrived. */
  responses(count: number, timeoutMs?: number): Promise<RawResponse[]>;
  /** Resolves when the server has closed the connection: 'end' (clean) or the error's code (reset). */
  closed: Promise<'end' | string>;
  write(data: string): void;
}

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Splits `text` into complete responses (Content-Length bodies only, which is what Vigil sends). */
export function parseResponses(text: string): RawResponse[] {
  const out: RawResponse[] = [];
  let rest = text;
  while (true) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) return out;
    const [statusLine, ...lines] = rest.slice(0, end).split('\r\n');
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const length = Number(headers['content-length'] ?? 0);
    const bodyStart = end + 4;
    if (Buffer.byteLength(rest.slice(bodyStart)) < length) return out;
    const body = Buffer.from(rest.slice(bodyStart)).subarray(0, length).toString();
    out.push({ status: Number(statusLine!.split(' ')[1]), headers, body });
    rest = Buffer.from(rest.slice(bodyStart)).subarray(length).toString();
  }
}

export async function rawConnect(url: string): Promise<RawConnection> {
  const { hostname, port } = new URL(url);
  const socket = net.connect(Number(port), hostname);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  let text = '';
  const waiters = new Set<() => void>();
  socket.on('data', (chunk) => {
    text += chunk.toString('utf8');
    waiters.forEach((w) => w());
  });
  const closed = new Promise<'end' | string>((resolve) => {
    socket.once('end', () => resolve('end'));
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
    socket.once('close', () => resolve('end'));
  });
  return {
    socket,
    received: () => text,
    closed,
    write: (data) => socket.write(data),
    responses(count, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const parsed = parseResponses(text);
          if (parsed.length >= count) {
            cleanup();
            resolve(parsed);
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`${count} responses did not arrive within ${timeoutMs} ms; received:\n${text}`));
        }, timeoutMs);
        const onClose = () => {
          // A connection closed by the server may still have delivered what we wait for.
          const parsed = parseResponses(text);
          cleanup();
          if (parsed.length >= count) resolve(parsed);
          else reject(new Error(`connection closed after ${parsed.length} of ${count} responses; received:\n${text}`));
        };
        const cleanup = () => {
          clearTimeout(timer);
          waiters.delete(check);
          socket.off('close', onClose);
        };
        waiters.add(check);
        socket.once('close', onClose);
        check();
      });
    },
  };
}

/** A POST's request line and headers for a JSON body of `length` bytes. */
export function postHead(path: string, length: number, extra = ''): string {
  return `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n${extra}\r\n`;
}
