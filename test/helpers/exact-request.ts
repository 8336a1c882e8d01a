import { connect } from 'node:net';

/**
 * One HTTP/1.1 exchange with exactly the bytes given: no client library adds or reorders a
 * header (fetch, for one, adds a Content-Type to a string body). The request is sent as is and
 * the socket is read until the response's Content-Length (or the close).
 */
export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  text: string;
  /** The body's bytes (binary tensor answers are not text). */
  body: Buffer;
  json(): any;
}

export function rawRequest(baseUrl: string, request: Buffer | string): Promise<RawResponse> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) });
    const chunks: Buffer[] = [];
    const finish = () => {
      const all = Buffer.concat(chunks);
      const end = all.indexOf('\r\n\r\n');
      if (end < 0) return reject(new Error(`no complete response head: ${JSON.stringify(all.toString('latin1'))}`));
      const [statusLine, ...lines] = all.subarray(0, end).toString('latin1').split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of lines) {
        const colon = line.indexOf(':');
        headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      const body = all.subarray(end + 4);
      const text = body.toString('utf8');
      resolve({ status: Number(statusLine!.split(' ')[1]), headers, text, body, json: () => JSON.parse(text) });
    };
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      const all = Buffer.concat(chunks);
      const end = all.indexOf('\r\n\r\n');
      if (end < 0) return;
      const length = /\r\ncontent-length:\s*(\d+)/i.exec(all.subarray(0, end + 2).toString('latin1'));
      if (length && all.length - end - 4 >= Number(length[1])) {
        socket.end();
        socket.destroy();
        finish();
      }
    });
    socket.on('end', finish);
    socket.on('error', reject);
    socket.write(request);
  });
}

/** A request head and body in the order given, with Content-Length computed from the body. */
export function httpRequest(method: string, path: string, headers: [string, string][], body?: string): string {
  const length = body === undefined ? [] : [['Content-Length', String(Buffer.byteLength(body))] as [string, string]];
  const head = [`${method} ${path} HTTP/1.1`, ...[...headers, ...length].map(([name, value]) => `${name}: ${value}`)].join('\r\n');
  return `${head}\r\n\r\n${body ?? ''}`;
}
