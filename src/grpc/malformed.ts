/**
 * A unary call whose request bytes are not a valid message. grpc-js answers a deserializer's
 * throw itself, with INTERNAL (the server's fault) and before any handler, so Vigil's metrics and
 * log never see the call. proto.ts wraps every unary method's deserializer to hand this value on
 * instead, and calls.ts answers it INVALID_ARGUMENT, naming why the bytes did not parse.
 */
export const MALFORMED = Symbol('malformed request');

export interface MalformedRequest {
  [MALFORMED]: string;
}

export function keepMalformed<T>(deserialize: (bytes: Buffer) => T): (bytes: Buffer) => T | MalformedRequest {
  return (bytes) => {
    try {
      return deserialize(bytes);
    } catch (error) {
      return { [MALFORMED]: error instanceof Error ? error.message : String(error) };
    }
  };
}

export function isMalformed(request: unknown): request is MalformedRequest {
  return typeof request === 'object' && request !== null && MALFORMED in request;
}
