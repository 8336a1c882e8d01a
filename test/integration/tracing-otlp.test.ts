import { spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeUpstream, writeModelFolder, type FakeUpstream } from '../helpers/fake-upstream.js';
import { REPO_ROOT, postJson, startVigil, type VigilProcess } from '../helpers/server.js';
import { tracingConfigured } from '../../src/observability/tracing.js';

/**
 * Traces from the real server to a real OTLP/HTTP receiver on loopback: the exporter's own
 * JSON export requests (POST /v1/traces), decoded here, checked for the span tree
 * (request -> queue, infer / remote call), W3C trace-context propagation and log correlation.
 */

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: Array<{ key: string; value: Record<string, unknown> }>;
  status?: { code?: number };
  startTimeUnixNano: string;
  endTimeUnixNano: string;
}

interface Receiver {
  url: string;
  spans: OtlpSpan[];
  resources: Array<Record<string, unknown>>;
  contentTypes: Set<string>;
  close(): Promise<void>;
}

const attr = (span: OtlpSpan, key: string) => {
  const value = span.attributes.find((a) => a.key === key)?.value;
  return value ? Object.values(value)[0] : undefined;
};

async function startOtlpReceiver(): Promise<Receiver> {
  const receiver: Receiver = { url: '', spans: [], resources: [], contentTypes: new Set(), close: async () => undefined };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      receiver.contentTypes.add(String(req.headers['content-type']));
      if (req.method !== 'POST' || req.url !== '/v1/traces' || !String(req.headers['content-type']).startsWith('application/json')) {
        res.writeHead(415).end();
        return;
      }
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      for (const rs of body.resourceSpans ?? []) {
        receiver.resources.push(Object.fromEntries((rs.resource?.attributes ?? []).map((a: any) => [a.key, Object.values(a.value)[0]])));
        for (const ss of rs.scopeSpans ?? []) receiver.spans.push(...ss.spans);
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  receiver.close = () => new Promise((resolve) => server.close(() => resolve()));
  return receiver;
}

async function until<T>(find: () => T | undefined, what: string, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = find();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const TOKEN = 'hf_tracingTESTtoken';

describe('tracing over OTLP/HTTP', () => {
  let receiver: Receiver;
  let fake: FakeUpstream;
  let vigil: VigilProcess;
  let root: string;

  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    fake = await startFakeUpstream({ token: TOKEN });
    root = mkdtempSync(path.join(tmpdir(), 'vigil-tracing-'));
    const base = JSON.parse(readFileSync(path.join(REPO_ROOT, 'models/positive-thought/1/vigil.model.json'), 'utf8'));
    const thought = await writeModelFolder(root, { ...base, remote: { ...base.remote, baseUrl: fake.chatBaseUrl, retry: { maxRetries: 0 } } });
    vigil = await startVigil(['--no-embedded', '--model', path.join(REPO_ROOT, 'models', 'sentiment'), '--model', thought], {
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_SERVICE_NAME: 'vigil-under-test',
      // Export every 100 ms instead of every 5 s.
      OTEL_BSP_SCHEDULE_DELAY: '100',
      HF_TOKEN: TOKEN,
      HF_TOKEN_FILE: '',
    });
    await vigil.waitUntilReady();
  });

  afterAll(async () => {
    await vigil?.stop();
    await receiver?.close();
    await fake?.close();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('exports a server span per request, continuing the caller trace, with queue and infer children', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const callerSpan = '00f067aa0ba902b7';
    const r = await postJson(`${vigil.url}/predict`, { text: 'a gorgeous, heartfelt film' }, { traceparent: `00-${traceId}-${callerSpan}-01` });
    expect(r.status).toBe(200);

    const server = await until(
      () => receiver.spans.find((s) => s.traceId === traceId && s.kind === 2 /* SERVER */),
      'the request span',
    );
    expect(server.name).toBe('POST /predict');
    expect(server.parentSpanId).toBe(callerSpan);
    expect(attr(server, 'http.route')).toBe('/predict');
    expect(Number(attr(server, 'http.response.status_code'))).toBe(200);
    expect(attr(server, 'vigil.request_id')).toBe(r.body.request_id);

    const children = await until(() => {
      const found = receiver.spans.filter((s) => s.parentSpanId === server.spanId);
      return found.length >= 2 ? found : undefined;
    }, 'queue and infer spans');
    expect(children.map((s) => s.name).sort()).toEqual(['vigil.infer', 'vigil.queue']);
    for (const child of children) {
      expect(child.traceId).toBe(traceId);
      expect(attr(child, 'vigil.model')).toBe('sentiment');
      // Inside the request span. The SDK stamps the request span from Date.now() (1 ms
      // resolution) and the children from the monotonic clock: allow that millisecond.
      const ms = 1_000_000n;
      expect(BigInt(child.startTimeUnixNano)).toBeGreaterThanOrEqual(BigInt(server.startTimeUnixNano) - ms);
      expect(BigInt(child.endTimeUnixNano)).toBeLessThanOrEqual(BigInt(server.endTimeUnixNano) + ms);
    }
    const queue = children.find((s) => s.name === 'vigil.queue')!;
    const infer = children.find((s) => s.name === 'vigil.infer')!;
    // In order, back to back: the queue wait ends where the engine call begins.
    expect(queue.endTimeUnixNano).toBe(infer.startTimeUnixNano);
    expect(BigInt(queue.startTimeUnixNano)).toBeLessThanOrEqual(BigInt(queue.endTimeUnixNano));
    expect(BigInt(infer.startTimeUnixNano)).toBeLessThanOrEqual(BigInt(infer.endTimeUnixNano));

    expect(receiver.resources.some((r) => r['service.name'] === 'vigil-under-test' && typeof r['service.version'] === 'string')).toBe(true);
    expect([...receiver.contentTypes].every((t) => t.startsWith('application/json'))).toBe(true);
  });

  it('puts the same trace id in the request log line', async () => {
    const r = await postJson(`${vigil.url}/v1/models/sentiment/predict`, { text: 'dull' });
    expect(r.status).toBe(200);
    const requestId = r.headers.get('x-request-id');
    const server = await until(() => receiver.spans.find((s) => s.kind === 2 && attr(s, 'vigil.request_id') === requestId), 'the request span');
    const line = await vigil.waitForLog(new RegExp(`"msg":"request".*"request_id":"${requestId}"|"request_id":"${requestId}".*"msg":"request"`));
    const logged = JSON.parse(line);
    expect(logged.trace_id).toBe(server.traceId);
    expect(logged.trace_id).toMatch(/^[0-9a-f]{32}$/);
    expect(logged.span_id).toMatch(/^[0-9a-f]{16}$/);
  });

  it('ends and exports the span of a request whose client goes away mid-stream', async () => {
    fake.tokenDelayMs = 200;
    const controller = new AbortController();
    const response = await fetch(`${vigil.url}/v1/models/positive-thought/predict`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: 'Tell me something long.', stream: true }),
      signal: controller.signal,
    });
    expect(response.status).toBe(200);
    const requestId = response.headers.get('x-request-id');
    const reader = response.body!.getReader();
    await reader.read(); // the first event arrived: the request is in flight
    controller.abort();
    await reader.cancel().catch(() => undefined);
    try {
      const span = await until(() => receiver.spans.find((s) => s.kind === 2 && attr(s, 'vigil.request_id') === requestId), 'the abandoned request span');
      expect(span.name).toBe('POST /v1/models/:name/predict');
      expect(attr(span, 'vigil.client_aborted')).toBe(true);
      expect(BigInt(span.endTimeUnixNano)).toBeGreaterThan(BigInt(span.startTimeUnixNano));
      // Metrics and the request log see it too (fastify runs no onResponse for it): as 499,
      // and nothing is left in flight.
      const line = JSON.parse(await vigil.waitForLog(new RegExp(`"request_id":"${requestId}".*"client_aborted":true|"client_aborted":true.*"request_id":"${requestId}"`)));
      // (No trace_id on this line: it is written from the socket's close, outside the request's
      // context; the span's vigil.request_id joins the two.)
      expect(line).toMatchObject({ status: 499, route: '/v1/models/:name/predict' });
      const metrics = await (await fetch(`${vigil.url}/metrics`)).text();
      expect(metrics).toMatch(/^http_requests_total\{method="POST",route="\/v1\/models\/:name\/predict",status="499"\} 1$/m);
      // Only the /metrics request itself is in flight while it is answered.
      expect(metrics).toMatch(/^http_requests_in_flight 1$/m);
    } finally {
      fake.tokenDelayMs = 0;
    }
  });

  it('records a remote API call as a client span under the request, and marks 5xx requests as errors', async () => {
    const ok = await postJson(`${vigil.url}/v1/models/positive-thought/predict`, { prompt: 'Tired but hopeful.' });
    expect(ok.status).toBe(200);
    const server = await until(() => receiver.spans.find((s) => s.kind === 2 && attr(s, 'vigil.request_id') === ok.body.request_id), 'remote request span');
    const call = await until(() => receiver.spans.find((s) => s.parentSpanId === server.spanId && s.name === 'vigil.remote_call'), 'remote call span');
    expect(call.kind).toBe(3); // CLIENT
    expect(attr(call, 'vigil.model')).toBe('positive-thought');

    fake.inject({ kind: 'status', status: 500 }, { times: 1 });
    const failed = await postJson(`${vigil.url}/v1/models/positive-thought/predict`, { prompt: 'Again.' });
    expect(failed.status).toBeGreaterThanOrEqual(500);
    const failedServer = await until(
      () => receiver.spans.find((s) => s.kind === 2 && attr(s, 'vigil.request_id') === failed.headers.get('x-request-id')),
      'failed request span',
    );
    expect(failedServer.status?.code).toBe(2); // ERROR
    const failedCall = await until(() => receiver.spans.find((s) => s.parentSpanId === failedServer.spanId && s.name === 'vigil.remote_call'), 'failed remote call span');
    expect(failedCall.status?.code).toBe(2);
  });
});

describe('tracing off', () => {
  it('is configured only by an OTLP endpoint, and can be switched off', () => {
    expect(tracingConfigured({})).toBe(false);
    expect(tracingConfigured({ OTEL_EXPORTER_OTLP_ENDPOINT: '' })).toBe(false);
    expect(tracingConfigured({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' })).toBe(true);
    expect(tracingConfigured({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/v1/traces' })).toBe(true);
    expect(tracingConfigured({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_SDK_DISABLED: 'true' })).toBe(false);
    expect(tracingConfigured({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_TRACES_EXPORTER: 'none' })).toBe(false);
  });

  it('loads no OpenTelemetry SDK or exporter unless an endpoint is set', () => {
    // A fresh process per case: which CommonJS modules did startTracing() pull in?
    const probe = (endpoint?: string) => {
      const script = `
        import { createRequire } from 'node:module';
        const require = createRequire(import.meta.url);
        const { startTracing } = await import(${JSON.stringify(pathToFileURL(path.join(REPO_ROOT, 'dist/observability/tracing.js')).href)});
        const tracing = await startTracing({ serviceVersion: 'probe', env: ${JSON.stringify(endpoint ? { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint } : {})} });
        const loaded = Object.keys(require.cache).filter((k) => k.includes('@opentelemetry'));
        console.log(JSON.stringify({ enabled: tracing.enabled, sdk: loaded.some((k) => k.includes('sdk-trace')), exporter: loaded.some((k) => k.includes('exporter-trace-otlp')) }));
        await tracing.shutdown();`;
      const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: { PATH: process.env.PATH } });
      expect(result.status, result.stderr).toBe(0);
      return JSON.parse(result.stdout.trim().split('\n').at(-1)!);
    };
    expect(probe()).toEqual({ enabled: false, sdk: false, exporter: false });
    // The control: the same probe sees them when tracing is on.
    expect(probe('http://127.0.0.1:9')).toEqual({ enabled: true, sdk: true, exporter: true });
  });

  it('leaves logs without trace ids when no endpoint is set, even for a request carrying traceparent', async () => {
    const vigil = await startVigil(['--no-embedded', '--model', path.join(REPO_ROOT, 'models', 'sentiment')], {
      OTEL_EXPORTER_OTLP_ENDPOINT: '',
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: '',
      OTEL_BSP_SCHEDULE_DELAY: '100',
    });
    try {
      await vigil.waitUntilReady();
      const r = await postJson(`${vigil.url}/predict`, { text: 'fine' }, { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' });
      expect(r.status).toBe(200);
      const line = JSON.parse(await vigil.waitForLog(new RegExp(`"request_id":"${r.body.request_id}"`)));
      expect(line).not.toHaveProperty('trace_id');
      expect(vigil.logs.some((l) => l.includes('tracing: exporting'))).toBe(false);
    } finally {
      await vigil.stop();
    }
  });
});
