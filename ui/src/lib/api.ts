/**
 * Same-origin calls to the Vigil JSON API. Every failure becomes an ApiError with the server's
 * stable `code`, so the tabs can pick a friendly message per code instead of showing raw text.
 */

export class ApiError extends Error {
  constructor(
    /** HTTP status; 0 when the server could not be reached at all. */
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** `{"error": {"code", "message"}}` from the body, when the body is one. */
export function errorFromBody(status: number, body: unknown): ApiError {
  const error = (body as { error?: unknown } | null)?.error;
  if (error && typeof error === 'object') {
    const { code, message } = error as { code?: unknown; message?: unknown };
    return new ApiError(status, typeof code === 'string' ? code : `http_${status}`, typeof message === 'string' ? message : `HTTP ${status}`);
  }
  if (typeof error === 'string') return new ApiError(status, `http_${status}`, error);
  return new ApiError(status, `http_${status}`, `The server answered HTTP ${status}.`);
}

async function send(path: string, init: RequestInit): Promise<Response> {
  try {
    return await fetch(path, init);
  } catch (error) {
    if ((error as Error).name === 'AbortError') throw error;
    throw new ApiError(0, 'network', 'Could not reach the Vigil server. Is it still running?');
  }
}

async function readJson<T>(response: Response): Promise<T> {
  const text = await response.text();
  let body: unknown;
  try {
    body = text === '' ? undefined : JSON.parse(text);
  } catch {
    throw new ApiError(response.status, `http_${response.status}`, `The server answered HTTP ${response.status} with a body that is not JSON.`);
  }
  if (!response.ok) throw errorFromBody(response.status, body);
  return body as T;
}

/** Resolves with the parsed body; 503 bodies (like /ready's) are returned when `acceptStatus` lists them. */
export async function getJson<T>(path: string, options: { signal?: AbortSignal; acceptStatus?: number[] } = {}): Promise<T> {
  const response = await send(path, { headers: { accept: 'application/json' }, signal: options.signal });
  if (!response.ok && options.acceptStatus?.includes(response.status)) {
    return (await response.json()) as T;
  }
  return readJson<T>(response);
}

export async function postJson<T>(path: string, body: unknown, signal?: AbortSignal): Promise<T> {
  const response = await send(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify(body),
    signal,
  });
  return readJson<T>(response);
}

/**
 * POST that answers a stream: the raw Response. A failure before the stream starts may come as
 * JSON (thrown here as ApiError) or, with its HTTP status, as an event stream holding one
 * `error` event: that Response is returned for the caller's stream reader to report.
 */
export async function postForStream(path: string, body: unknown, signal?: AbortSignal): Promise<Response> {
  const response = await send(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
    body: JSON.stringify(body),
    signal,
  });
  const streamed = (response.headers.get('content-type') ?? '').includes('text/event-stream');
  if (!response.ok && !streamed) return readJson<never>(response);
  return response;
}

export const predictPath = (model: string) => `/v1/models/${encodeURIComponent(model)}/predict`;
