import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { VigilError } from '../errors.js';

/**
 * Vigil's errors as gRPC statuses. Every VigilError carries the HTTP status that says whose
 * fault it is; the protocol's gRPC mapping follows it: a caller's mistake is INVALID_ARGUMENT
 * (naming the input), an unknown model or version NOT_FOUND, overload and not-ready UNAVAILABLE
 * (with `retry-after` in the trailers, as REST sends the header), a passed deadline
 * DEADLINE_EXCEEDED, a message over the size limit RESOURCE_EXHAUSTED. Anything unexpected is
 * INTERNAL with a message that gives nothing away; the log has the rest.
 */

const BY_HTTP_STATUS: Record<number, status> = {
  400: status.INVALID_ARGUMENT,
  401: status.UNAUTHENTICATED,
  403: status.PERMISSION_DENIED,
  404: status.NOT_FOUND,
  408: status.DEADLINE_EXCEEDED,
  409: status.FAILED_PRECONDITION,
  413: status.RESOURCE_EXHAUSTED,
  429: status.RESOURCE_EXHAUSTED,
  499: status.CANCELLED,
  501: status.UNIMPLEMENTED,
  502: status.UNAVAILABLE,
  503: status.UNAVAILABLE,
  504: status.DEADLINE_EXCEEDED,
};

export const INTERNAL_MESSAGE = 'the server failed to handle the request; see its logs for the request id';

export function grpcCodeOf(error: unknown): status {
  if (error instanceof VigilError) return BY_HTTP_STATUS[error.status] ?? (error.status < 500 ? status.INVALID_ARGUMENT : status.INTERNAL);
  return status.INTERNAL;
}

/**
 * Longest status message sent. It travels as the grpc-message trailer, and a header block over
 * the peer's limit (nghttp2's default is 64 KiB) is a connection error in HTTP/2: a message quoting
 * a 100 KB input name would end the connection, and every call multiplexed on it.
 */
export const MAX_DETAILS_LENGTH = 1024;

function boundedDetails(message: string): string {
  if (message.length <= MAX_DETAILS_LENGTH) return message;
  let end = MAX_DETAILS_LENGTH - 1;
  // Never cut between the two halves of a surrogate pair: grpc-js percent-encodes the message,
  // and encodeURI throws on a lone surrogate.
  const last = message.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return `${message.slice(0, end)}…`;
}

/** The status object grpc-js sends for a failed call. */
export function toServiceError(error: unknown, requestId: string): Partial<ServiceError> {
  const code = grpcCodeOf(error);
  const metadata = new Metadata();
  metadata.set('x-request-id', requestId);
  if (error instanceof VigilError) {
    if (error.details.retryAfterSeconds !== undefined) metadata.set('retry-after', String(error.details.retryAfterSeconds));
    // 5xx VigilErrors are the server's own, described on purpose (not configured, overloaded).
    return { code, details: boundedDetails(error.message), metadata };
  }
  return { code, details: INTERNAL_MESSAGE, metadata };
}

/** Status code names for metric labels and logs: a bounded set (the 17 codes). */
export const statusName = (code: status): string => status[code] ?? 'UNKNOWN';
