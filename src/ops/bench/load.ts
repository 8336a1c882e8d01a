import autocannon from 'autocannon';
import { RawHttpPool, rawRequestsTo } from './raw-http.js';

export interface LoadOptions {
  /** Base URL of the server, e.g. http://127.0.0.1:8000. */
  url: string;
  /** Path that takes the POST, e.g. /v1/models/sentiment/predict. */
  path: string;
  /** Bodies (JSON text, or bytes for binary tensors), sent in turn. */
  bodies: Array<string | Buffer>;
  /** Headers of each body (same index), beside `headers`: e.g. the binary tensors' header length. */
  bodyHeaders?: Array<Record<string, string>>;
  /** Inputs per body (texts in a batch body), to report inputs/s. */
  inputsPerBody?: number;
  /** Concurrent connections, each with one request outstanding (closed loop). */
  connections: number;
  durationSeconds: number;
  /** Requests per second across all connections (open loop at that rate); unlimited when absent. */
  overallRate?: number;
  /** Extra request headers. */
  headers?: Record<string, string>;
}

export interface LatencySummary {
  p50: number;
  p90: number;
  p99: number;
  mean: number;
  max: number;
}

export interface LoadResult {
  connections: number;
  durationSeconds: number;
  /** Successful (2xx) requests per second. */
  requestsPerSecond: number;
  /** Successful inputs per second (requests x inputs per body). */
  inputsPerSecond: number;
  /** Milliseconds, over every answered request. */
  latencyMs: LatencySummary;
  requests: number;
  /** Connection errors and timeouts. */
  errors: number;
  non2xx: number;
  statusCodes: Record<string, number>;
}

/** One load run with autocannon's programmatic API. */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const { bodies } = options;
  if (bodies.length === 0) throw new Error('runLoad needs at least one body');
  let next = 0;
  const result = await autocannon({
    url: options.url,
    connections: options.connections,
    duration: options.durationSeconds,
    overallRate: options.overallRate,
    timeout: 30,
    requests: [
      {
        method: 'POST',
        path: options.path,
        headers: { 'content-type': 'application/json', ...options.headers },
        setupRequest: (request) => {
          const index = next++ % bodies.length;
          const extra = options.bodyHeaders?.[index];
          return { ...request, body: bodies[index]!, ...(extra ? { headers: { ...request.headers, ...extra } } : {}) };
        },
      },
    ],
  });
  const seconds = result.duration > 0 ? result.duration : options.durationSeconds;
  const ok = result['2xx'];
  const statusCodes: Record<string, number> = {};
  for (const [code, stat] of Object.entries(result.statusCodeStats ?? {})) statusCodes[code] = stat?.count ?? 0;
  return {
    connections: options.connections,
    durationSeconds: seconds,
    requestsPerSecond: ok / seconds,
    inputsPerSecond: (ok * (options.inputsPerBody ?? 1)) / seconds,
    latencyMs: {
      p50: result.latency.p50,
      p90: result.latency.p90,
      p99: result.latency.p99,
      mean: result.latency.average,
      max: result.latency.max,
    },
    requests: result.requests.total,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
    statusCodes,
  };
}

/** Request bodies for a text model: one text each, or `batch` texts each ({"texts": [...]}) . */
export function textBodies(texts: string[], batch = 1): string[] {
  if (batch <= 1) return texts.map((text) => JSON.stringify({ text }));
  const bodies: string[] = [];
  for (let i = 0; i < texts.length; i += batch) {
    const group = texts.slice(i, i + batch);
    if (group.length === batch) bodies.push(JSON.stringify({ texts: group }));
  }
  if (bodies.length === 0) bodies.push(JSON.stringify({ texts: Array.from({ length: batch }, (_, i) => texts[i % texts.length]) }));
  return bodies;
}

/**
 * Latency of requests sent one at a time over one keep-alive connection, timed here with
 * sub-millisecond precision (autocannon reports whole milliseconds, too coarse for a model that
 * answers in half of one). Non-2xx answers are counted, not timed. Sent with the lean client
 * (raw-http.ts), as the open loop below is, so that the two measure the server alike.
 */
export async function sequentialLatency(options: { url: string; path: string; bodies: string[]; count: number }): Promise<{ p50: number; p90: number; p99: number; count: number; failures: number }> {
  const target = new URL(options.path, options.url);
  const requests = rawRequestsTo(target, 'POST', options.bodies);
  const connection = RawHttpPool.to(target, { maxSockets: 1 });
  const times: number[] = [];
  let failures = 0;
  try {
    for (let i = 0; i < options.count; i++) {
      const started = performance.now();
      const answer = await connection.request(requests[i % requests.length]!);
      if (answer.error) throw new Error(`${options.path}: ${answer.error}`);
      if (answer.status! >= 200 && answer.status! < 300) times.push(performance.now() - started);
      else failures++;
    }
  } finally {
    connection.destroy();
  }
  times.sort((a, b) => a - b);
  const at = (q: number) => times[Math.min(times.length - 1, Math.floor(q * times.length))] ?? NaN;
  return { p50: at(0.5), p90: at(0.9), p99: at(0.99), count: times.length, failures };
}

/**
 * Open-loop load at a steady rate: request i is sent at start + i/rate whatever happened to the
 * earlier ones (a Poisson-free, evenly spaced arrival process), each on a pooled keep-alive
 * connection, timed here with sub-millisecond precision. autocannon's rate limiting releases
 * every connection's quota on the same tick, so with many connections its "open loop" is a
 * train of bursts; this is the steady load that "p99 at half of the best throughput" means.
 * The lean client (raw-http.ts) keeps the generator's own cost and event-loop delay, which
 * share the server's cores and land in every latency it times, to a few microseconds a request.
 */
export async function openLoop(options: { url: string; path: string; bodies: string[]; rate: number; durationSeconds: number; maxSockets?: number }): Promise<{
  requestsPerSecond: number;
  latencyMs: LatencySummary;
  sent: number;
  ok: number;
  failures: number;
}> {
  const target = new URL(options.path, options.url);
  const requests = rawRequestsTo(target, 'POST', options.bodies);
  const connections = RawHttpPool.to(target, { maxSockets: options.maxSockets ?? 256 });
  const times: number[] = [];
  let failures = 0;
  let sent = 0;
  const inFlight = new Set<Promise<void>>();
  const fire = (bytes: Buffer) => {
    const started = performance.now();
    const done = connections.request(bytes).then((answer) => {
      if (answer.status !== undefined && answer.status >= 200 && answer.status < 300) times.push(performance.now() - started);
      else failures++;
    });
    inFlight.add(done);
    void done.then(() => inFlight.delete(done));
  };
  const start = performance.now();
  const total = Math.floor(options.rate * options.durationSeconds);
  const interval = 1000 / options.rate;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const due = Math.min(total, Math.floor((performance.now() - start) / interval) + 1);
      while (sent < due) fire(requests[sent++ % requests.length]!);
      if (sent >= total) return resolve();
      const next = start + sent * interval - performance.now();
      setTimeout(tick, Math.max(0, next));
    };
    tick();
  });
  await Promise.all([...inFlight]);
  const seconds = (performance.now() - start) / 1000;
  connections.destroy();
  times.sort((a, b) => a - b);
  const at = (q: number) => times[Math.min(times.length - 1, Math.floor(q * times.length))] ?? NaN;
  const mean = times.reduce((s, t) => s + t, 0) / Math.max(1, times.length);
  return {
    requestsPerSecond: times.length / seconds,
    latencyMs: { p50: at(0.5), p90: at(0.9), p99: at(0.99), mean, max: times.at(-1) ?? NaN },
    sent,
    ok: times.length,
    failures,
  };
}
