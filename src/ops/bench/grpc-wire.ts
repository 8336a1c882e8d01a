import http2 from 'node:http2';

/**
 * Unary gRPC calls as bytes over node:http2, for the load generator only. A benchmark client on
 * the machine it measures competes with the server for the same cores, so it must cost little:
 * @grpc/grpc-js' client spends about 1 ms of CPU per ModelInfer call here (interceptors, metadata
 * objects, a serialisation per call), this one about a third of that, close to node:http's
 * client for the same REST call. The message is serialised and framed once, before the run;
 * nothing here parses the answer beyond its status. Vigil's gRPC clients proper (probes,
 * metadata, the tests) use @grpc/grpc-js.
 *
 * The wire form (the gRPC over HTTP/2 protocol): POST /package.Service/Method with
 * content-type application/grpc and te: trailers; the body is length-prefixed messages (a flag
 * byte, 0 for uncompressed, then the length as 4 bytes big-endian); the status comes as
 * grpc-status in the trailers, or in the headers of a trailers-only answer.
 */

/** One message in gRPC's length-prefixed framing, uncompressed. */
export function grpcFrame(message: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe(5 + message.length);
  frame[0] = 0;
  frame.writeUInt32BE(message.length, 1);
  frame.set(message, 5);
  return frame;
}

export interface WireOutcome {
  /** grpc-status; undefined when the call ended without one (reset, refused, our own deadline). */
  code?: number;
  /** The server answered the call (its headers or trailers carry x-request-id, set on every Vigil answer). */
  answered: boolean;
  /** grpc-message, percent-decoded. */
  details?: string;
  /** Bytes of the response messages, framing included. */
  bytes: number;
}

/** A gRPC deadline header value: whole milliseconds (the protocol allows at most 8 digits). */
const grpcTimeout = (ms: number) => `${Math.max(1, Math.min(99_999_999, Math.ceil(ms)))}m`;

/** One HTTP/2 connection to a gRPC server. */
export class GrpcWireChannel {
  private readonly session: http2.ClientHttp2Session;

  constructor(address: string) {
    this.session = http2.connect(`http://${address}`);
    // A connection error ends the calls on it (each sees its stream close); nothing to rethrow.
    this.session.on('error', () => {});
  }

  /** A unary call with `frame` (see grpcFrame) as its body. */
  call(path: string, frame: Buffer, options: { timeoutMs?: number; headers?: Record<string, string> } = {}): Promise<WireOutcome> {
    return new Promise((resolve) => {
      const headers: http2.OutgoingHttpHeaders = {
        ':method': 'POST',
        ':path': `/${path}`,
        'content-type': 'application/grpc',
        te: 'trailers',
        ...options.headers,
      };
      if (options.timeoutMs !== undefined) headers['grpc-timeout'] = grpcTimeout(options.timeoutMs);
      let stream: http2.ClientHttp2Stream;
      try {
        stream = this.session.request(headers);
      } catch {
        resolve({ answered: false, bytes: 0 });
        return;
      }
      let code: number | undefined;
      let details: string | undefined;
      let answered = false;
      let bytes = 0;
      const read = (fields: http2.IncomingHttpHeaders) => {
        if (fields['x-request-id'] !== undefined) answered = true;
        if (fields['grpc-status'] !== undefined) code = Number(fields['grpc-status']);
        const message = fields['grpc-message'];
        if (typeof message === 'string') details = safeDecode(message);
      };
      // The client's own deadline: the server should have answered DEADLINE_EXCEEDED by then.
      const timer = options.timeoutMs === undefined ? undefined : setTimeout(() => stream.close(http2.constants.NGHTTP2_CANCEL), options.timeoutMs + 1_000);
      stream.on('response', read);
      stream.on('trailers', read);
      stream.on('data', (chunk: Buffer) => (bytes += chunk.length));
      stream.on('error', () => {});
      stream.on('close', () => {
        if (timer) clearTimeout(timer);
        resolve({ code, answered: answered && code !== undefined, details, bytes });
      });
      stream.end(frame);
    });
  }

  close(): void {
    this.session.close();
  }
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}
