import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local stand-in for the Hugging Face Inference API on loopback, speaking its real wire
 * formats, with faults injected on demand:
 *
 * - `POST /v1/chat/completions` (HF router, TGI, vLLM: OpenAI-compatible): a JSON
 *   `chat.completion`, or with `"stream": true` server-sent `chat.completion.chunk` events
 *   ending with `data: [DONE]` (a usage chunk first when `stream_options.include_usage`).
 * - `POST /hf-inference/models/{owner}/{name}` with `{"inputs": "..."}`: `[[{label, score}, ...]]`.
 * - HF error bodies: `{"error": "..."}` (hf-inference), `{"error": {"message", "type"}}`
 *   (OpenAI-style router), 401/429 (+Retry-After)/500/503.
 *
 * With `token` set, every request must carry `Authorization: Bearer <token>` or gets 401.
 */

export type Fault =
  /** Any status with an HF-style error body (`{"error": message}` unless `body` is given). */
  | { kind: 'status'; status: number; body?: unknown; retryAfter?: string }
  /** Wait before answering normally (past the client's timeout, it never sees the answer). */
  | { kind: 'latency'; ms: number }
  /** 200 with a body that is not JSON. */
  | { kind: 'malformed' }
  /** Destroy the socket before answering: a network error. */
  | { kind: 'reset' }
  /** Stream `afterTokens` tokens, then destroy the socket. */
  | { kind: 'reset-mid-stream'; afterTokens: number }
  /** Stream `afterTokens` tokens, then stay silent until the client gives up. */
  | { kind: 'stall-mid-stream'; afterTokens: number }
  /** Stream `afterTokens` tokens, then an error event inside the 200 stream (TGI style). */
  | { kind: 'error-event'; afterTokens: number };

export type Route = 'chat' | 'classify';

export interface RecordedRequest {
  route: Route;
  path: string;
  headers: IncomingMessage['headers'];
  body: any;
  /** The fault this request got, if any. */
  fault?: Fault['kind'];
}

interface Injected {
  fault: Fault;
  remaining: number;
  route?: Route;
  /** Only requests for this upstream model id (chat `model`, or the classification path). */
  model?: string;
}

export interface FakeUpstream {
  /** http://127.0.0.1:port */
  url: string;
  /** For `remote.baseUrl` of chat models. */
  chatBaseUrl: string;
  /** For `remote.baseUrl` of HF text-classification models. */
  classificationBaseUrl: string;
  requests: RecordedRequest[];
  /** Requests whose client went away before the answer was complete. */
  aborted: number;
  /** The generated answer; streamed word by word. */
  reply: string;
  /** Pause between streamed tokens (lets a test disconnect mid-stream). */
  tokenDelayMs: number;
  /** The next `times` matching requests get `fault` (Infinity: until clear()). */
  inject(fault: Fault, options?: { times?: number; route?: Route; model?: string }): void;
  clear(): void;
  count(route?: Route, model?: string): number;
  close(): Promise<void>;
}

const CHAT_PATH = '/v1/chat/completions';
const CLASSIFY_PREFIX = '/hf-inference/models/';

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'x-request-id': 'fake-upstream', ...headers });
  res.end(text);
}

/** The shape HF's OpenAI-compatible router uses for errors on /v1; hf-inference uses `{"error": "..."}`. */
function errorBody(route: Route, status: number): unknown {
  const messages: Record<number, string> = {
    401: 'Invalid credentials in Authorization header',
    429: 'Rate limit reached. You reached free usage limit (reset hourly). Please subscribe to a plan at https://huggingface.co/pricing to use the API at this rate',
    500: 'Internal Server Error',
    503: 'Model HuggingFaceTB/SmolLM3-3B is currently loading',
  };
  const message = messages[status] ?? `HTTP ${status}`;
  if (route === 'classify') return status === 503 ? { error: message, estimated_time: 20 } : { error: message };
  return { error: { message, type: status === 429 ? 'rate_limit_error' : status === 401 ? 'authentication_error' : 'server_error' } };
}

export async function startFakeUpstream(options: { token?: string } = {}): Promise<FakeUpstream> {
  const injected: Injected[] = [];
  const sockets = new Set<import('node:net').Socket>();

  const takeFault = (route: Route, model: string | undefined): Fault | undefined => {
    const match = injected.find((i) => i.remaining > 0 && (!i.route || i.route === route) && (!i.model || i.model === model));
    if (!match) return undefined;
    match.remaining--;
    return match.fault;
  };

  const fake: FakeUpstream = {
    url: '',
    chatBaseUrl: '',
    classificationBaseUrl: '',
    requests: [],
    aborted: 0,
    reply: 'Every small step you take today still counts.',
    tokenDelayMs: 0,
    inject(fault, { times = 1, route, model } = {}) {
      injected.push({ fault, remaining: times, route, model });
    },
    clear() {
      injected.length = 0;
      fake.tokenDelayMs = 0;
    },
    count(route, model) {
      return fake.requests.filter((r) => (!route || r.route === route) && (!model || modelOf(r) === model)).length;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };

  const modelOf = (r: RecordedRequest): string | undefined =>
    r.route === 'chat' ? (r.body as { model?: string })?.model : r.path.slice(CLASSIFY_PREFIX.length);

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0]!;
    const route: Route | undefined = path === CHAT_PATH ? 'chat' : path.startsWith(CLASSIFY_PREFIX) ? 'classify' : undefined;
    const text = await readBody(req);
    let body: any;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    if (req.method !== 'POST' || !route) return sendJson(res, 404, { error: `no route ${req.method} ${path}` });
    const record: RecordedRequest = { route, path, headers: req.headers, body };
    fake.requests.push(record);
    let finished = false;
    res.on('finish', () => (finished = true));
    res.on('close', () => {
      if (!finished) fake.aborted++;
    });

    if (options.token !== undefined && req.headers.authorization !== `Bearer ${options.token}`) {
      return sendJson(res, 401, errorBody(route, 401));
    }
    if (body === undefined) return sendJson(res, 400, { error: 'Failed to deserialize the JSON body into the target type' });

    const fault = takeFault(route, modelOf(record));
    record.fault = fault?.kind;
    if (fault?.kind === 'status') {
      const headers: Record<string, string> = fault.retryAfter === undefined ? {} : { 'retry-after': fault.retryAfter };
      return sendJson(res, fault.status, fault.body ?? errorBody(route, fault.status), headers);
    }
    if (fault?.kind === 'reset') {
      req.socket.destroy();
      return;
    }
    if (fault?.kind === 'latency') {
      await sleep(fault.ms);
      if (res.destroyed) return;
    }
    if (fault?.kind === 'malformed') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"id":"chatcmpl-1","choices":[{"message":{"content":"Every sm');
      return;
    }

    if (route === 'classify') {
      const input = String(body.inputs ?? '');
      const negative = /\b(sad|bad|awful|terrible|hate|angry|tired)\b/i.test(input);
      const high = 0.9987;
      return sendJson(res, 200, [
        negative
          ? [{ label: 'NEGATIVE', score: high }, { label: 'POSITIVE', score: 1 - high }]
          : [{ label: 'POSITIVE', score: high }, { label: 'NEGATIVE', score: 1 - high }],
      ]);
    }

    const created = Math.floor(Date.now() / 1000);
    const model = String(body.model ?? 'unknown');
    const words = fake.reply.split(/(?<= )/);
    const maxTokens = typeof body.max_tokens === 'number' ? body.max_tokens : words.length;
    const tokens = words.slice(0, Math.max(1, maxTokens));
    const usage = { prompt_tokens: 42, completion_tokens: tokens.length, total_tokens: 42 + tokens.length };
    const base = { id: 'chatcmpl-fake', created, model, system_fingerprint: '3.2.1-sha-fake' };

    if (body.stream !== true) {
      return sendJson(res, 200, {
        ...base,
        object: 'chat.completion',
        choices: [{ index: 0, message: { role: 'assistant', content: tokens.join('') }, logprobs: null, finish_reason: tokens.length < words.length ? 'length' : 'stop' }],
        usage,
      });
    }

    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'x-request-id': 'fake-upstream' });
    const chunk = (delta: Record<string, unknown>, finish: string | null, extra: Record<string, unknown> = {}) =>
      `data: ${JSON.stringify({ ...base, object: 'chat.completion.chunk', choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }], usage: null, ...extra })}\n\n`;
    res.write(': keep-alive\n\n');
    for (let i = 0; i < tokens.length; i++) {
      const broken = fault && 'afterTokens' in fault && i === fault.afterTokens;
      if (broken && fault.kind === 'reset-mid-stream') {
        // Let the tokens already written reach the client first: destroy() drops unsent data.
        await sleep(50);
        req.socket.destroy();
        return;
      }
      if (broken && fault.kind === 'stall-mid-stream') return; // silence until the client leaves
      if (broken && fault.kind === 'error-event') {
        res.end(`data: ${JSON.stringify({ error: 'Request failed during generation: Server error: CUDA out of memory', error_type: 'generation' })}\n\n`);
        return;
      }
      if (res.destroyed) return;
      res.write(chunk({ role: 'assistant', content: tokens[i] }, null));
      if (fake.tokenDelayMs > 0) await sleep(fake.tokenDelayMs);
    }
    if (res.destroyed) return;
    res.write(chunk({ role: 'assistant', content: '' }, tokens.length < words.length ? 'length' : 'stop'));
    if (body.stream_options?.include_usage) res.write(`data: ${JSON.stringify({ ...base, object: 'chat.completion.chunk', choices: [], usage })}\n\n`);
    res.end('data: [DONE]\n\n');
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) sendJson(res, 500, { error: String(error) });
      else res.destroy();
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  fake.url = `http://127.0.0.1:${port}`;
  fake.chatBaseUrl = `${fake.url}/v1`;
  fake.classificationBaseUrl = `${fake.url}/hf-inference/models`;
  return fake;
}

/**
 * Writes a model folder (vigil.model.json) under `root` for `--model`, e.g. a copy of the
 * committed positive-thought spec with its baseUrl pointed at the fake.
 */
export async function writeModelFolder(root: string, spec: Record<string, unknown>): Promise<string> {
  const { mkdirSync, writeFileSync } = await import('node:fs');
  const path = await import('node:path');
  const dir = path.join(root, String(spec.name));
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'vigil.model.json'), JSON.stringify(spec, null, 2));
  return dir;
}

/** Polls `check` until it holds (events, not durations, are what tests wait for). */
export async function eventually(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await sleep(20);
  }
  throw new Error(`timed out waiting for ${what}`);
}
