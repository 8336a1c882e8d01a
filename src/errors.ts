/**
 * Errors that carry their HTTP meaning. Thrown anywhere below the HTTP layer (tasks, serving,
 * runtimes) so the route handlers never guess whose fault a failure was.
 *
 * `code` is a stable machine-readable string (part of the API); `message` is for people.
 */
export class VigilError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: { retryAfterSeconds?: number; [key: string]: unknown } = {},
  ) {
    super(message);
    this.name = 'VigilError';
  }
}

/** The caller sent something the model cannot take. Always names the offending field. */
export class InvalidInput extends VigilError {
  constructor(message: string, code = 'invalid_input') {
    super(400, code, message);
  }
}

/** The caller sent something larger than a limit allows; the message names the limit. */
export class PayloadTooLarge extends VigilError {
  constructor(message: string) {
    super(413, 'payload_too_large', message);
  }
}

export class ModelNotFound extends VigilError {
  constructor(name: string, version?: string) {
    super(
      404,
      'model_not_found',
      version === undefined ? `model "${name}" is not loaded` : `model "${name}" has no version "${version}"`,
    );
  }
}

export class ModelNotReady extends VigilError {
  constructor(name: string, reason: string) {
    super(503, 'model_not_ready', `model "${name}" is not ready: ${reason}`, { retryAfterSeconds: 5 });
  }
}

/** The server is over capacity for this model: 503 with Retry-After (429 is for a client over its own quota). */
export class Overloaded extends VigilError {
  constructor(message: string, retryAfterSeconds = 1, code = 'overloaded') {
    super(503, code, message, { retryAfterSeconds });
  }
}

export class DeadlineExceeded extends VigilError {
  constructor(message: string) {
    super(504, 'deadline_exceeded', message);
  }
}

/**
 * A model that cannot answer until the operator configures it (a remote model without a
 * token). 503 without Retry-After: waiting will not fix it; the message says what will.
 */
export class NotConfigured extends VigilError {
  constructor(message: string) {
    super(503, 'not_configured', message);
  }
}

/**
 * A refusal that stands for every call until it lifts (a remote model's open circuit): asked
 * for before a request is read, answered 503 with Retry-After. A plain value, not an Error: no
 * stack to capture for an answer that may be given thousands of times a second.
 */
export interface StandingRefusal {
  code: string;
  message: string;
  retryAfterSeconds: number;
}
