import { parseRetryAfterMs } from './backoff.js';

/**
 * One HTTP attempt against an upstream API, with nothing clever: no retries, no breaker (see
 * guard.ts). It turns every way an upstream can answer into a value or one of the errors
 * below, so the guard can decide what to retry.
 */

/** The upstream answered with a non-2xx status. `detail` is the upstream's own message. */
export class UpstreamHttpError extends Error {
  constructor(
    readonly status: number,
    readonly detail: string,
    readonly retryAfterMs: number | undefined,
  ) {
    super(`HTTP ${status}: ${detail}`);
    this.name = 'UpstreamHttpError';
  }
}

/** A 2xx answer we cannot use (not JSON, or not the shape the protocol promises). */
export class MalformedResponse extends Error {
  override name = 'MalformedResponse';
}

/** The upstream reported an error inside a 200 stream (`data: {"error": ...}`). */
export class StreamedError extends Error {
  override name = 'StreamedError';
}

/** What an attempt may tell the guard while it runs. */
export interface AttemptContext {
  /** Aborted on timeout or when the caller goes away. */
  signal: AbortSignal;
  /** The upstream answered with this HTTP status (counted once per attempt). */
  status(code: number): void;
  /** Bytes arrived: a stream is still alive (restarts its idle timeout). */
  progress(): void;
  /** The first token reached our caller: from now on this call is never retried. */
  firstToken(): void;
}

const MAX_DETAIL = 300;

/** The message inside an error body, in any of the shapes HF, TGI, vLLM and OpenAI use. */
export function errorDetail(body: string): { detail: string; estimatedSeconds?: number } {
  try {
    const parsed = JSON.parse(body) as Record<string, unknown>;
    const error = parsed.error;
    const message =
      typeof error === 'string'
        ? error
        : typeof error === 'object' && error !== null && typeof (error as { message?: unknown }).message === 'string'
          ? (error as { message: string }).message
          : typeof parsed.message === 'string'
            ? parsed.message
            : typeof parsed.detail === 'string'
              ? parsed.detail
              : undefined;
    const estimated = typeof parsed.estimated_time === 'number' ? parsed.estimated_time : undefined;
    if (message !== undefined) return { detail: message.slice(0, MAX_DETAIL), estimatedSeconds: estimated };
  } catch {
    // not JSON: use the text itself
  }
  const text = body.trim().replace(/\s+/g, ' ');
  return { detail: text ? text.slice(0, MAX_DETAIL) : 'no error message' };
}

export interface PostOptions {
  url: string;
  headers: Record<string, string>;
  body: unknown;
}

// undici is ~110 modules (~0.1 s, ~15 MiB at start); a server without remote models never
// needs it, so it is imported on the first upstream call.
let undici: Promise<typeof import('undici')> | undefined;

async function post(options: PostOptions, ctx: AttemptContext, accept: string) {
  const { request } = await (undici ??= import('undici'));
  const response = await request(options.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept, ...options.headers },
    body: JSON.stringify(options.body),
    signal: ctx.signal,
  });
  ctx.status(response.statusCode);
  if (response.statusCode < 200 || response.statusCode >= 300) {
    const text = await response.body.text().catch(() => '');
    const { detail, estimatedSeconds } = errorDetail(text);
    // HF's "model is loading" 503 says how long it will take instead of sending Retry-After.
    const retryAfterMs =
      parseRetryAfterMs(response.headers['retry-after']) ?? (estimatedSeconds !== undefined ? Math.round(estimatedSeconds * 1000) : undefined);
    throw new UpstreamHttpError(response.statusCode, detail, retryAfterMs);
  }
  return response;
}

/** POSTs JSON and returns the parsed JSON answer. */
export async function postJson(options: PostOptions, ctx: AttemptContext): Promise<unknown> {
  const response = await post(options, ctx, 'application/json');
  const text = await response.body.text();
  try {
    return JSON.parse(text);
  } catch {
    throw new MalformedResponse(`the upstream answered ${text.length} bytes that are not JSON`);
  }
}

/** A response that is either an SSE stream or (servers that ignore `stream: true`) one JSON body. */
export type StreamOrJson = { kind: 'events'; events: AsyncGenerator<string> } | { kind: 'json'; value: unknown };

/** POSTs JSON asking for server-sent events; yields the `data` of each event. */
export async function postForEvents(options: PostOptions, ctx: AttemptContext): Promise<StreamOrJson> {
  const response = await post(options, ctx, 'text/event-stream');
  const type = String(response.headers['content-type'] ?? '');
  if (type.includes('application/json')) {
    const text = await response.body.text();
    try {
      return { kind: 'json', value: JSON.parse(text) };
    } catch {
      throw new MalformedResponse(`the upstream answered ${text.length} bytes that are not JSON`);
    }
  }
  return { kind: 'events', events: sseData(response.body, ctx) };
}

/**
 * Server-sent events as the WHATWG spec frames them: lines, `data:` fields joined by newlines,
 * a blank line ends an event, `:` lines are comments (keep-alives). Only data matters here.
 */
export async function* sseData(body: AsyncIterable<Uint8Array>, ctx?: Pick<AttemptContext, 'progress'>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buffer = '';
  let data: string[] = [];
  const takeLine = function* (line: string): Generator<string> {
    if (line === '') {
      if (data.length > 0) yield data.join('\n');
      data = [];
      return;
    }
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') data.push(value);
  };
  for await (const chunk of body) {
    ctx?.progress();
    buffer += decoder.decode(chunk, { stream: true });
    let newline: number;
    while ((newline = buffer.search(/\r\n|\n|\r/)) >= 0) {
      // A lone trailing CR may be the first half of a CRLF split across chunks.
      if (newline === buffer.length - 1 && buffer.endsWith('\r')) break;
      const line = buffer.slice(0, newline);
      buffer = buffer.slice(newline + (buffer.startsWith('\r\n', newline) ? 2 : 1));
      yield* takeLine(line);
    }
  }
  buffer += decoder.decode();
  if (buffer !== '') yield* takeLine(buffer);
  yield* takeLine('');
}
