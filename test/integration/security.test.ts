import { request as httpRequest } from 'node:http';
import path from 'node:path';
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getJson, postJson, startVigil, type JsonResponse, type VigilProcess } from '../helpers/server.js';
import { pixelsFor, tempModelsDir, writeTinyDigits } from '../helpers/tiny-models.js';

/**
 * The security controls of docs/security.md over real HTTP against the real CLI: the admin API
 * off without a token, JSON-only bodies on every state-changing route (what a cross-site form or
 * a no-cors fetch can send is refused), the Host allowlist, CORS both ways, the feedback token,
 * rate limit and source-share gauge, and the browser headers. The Chromium side (CSP, a real
 * cross-site form, DNS rebinding) is test/e2e/security.test.ts.
 */

const ADMIN = 'security-admin-token';
const FEEDBACK = 'security-feedback-token';
const MODEL = 'tiny-digits';

/** Every route that changes what the server serves or measures, with a valid JSON body for it. */
const ADMIN_ROUTES: { method: string; path: string; body?: unknown }[] = [
  { method: 'POST', path: '/v2/repository/index', body: {} },
  { method: 'POST', path: `/v2/repository/models/${MODEL}/load`, body: {} },
  { method: 'POST', path: `/v2/repository/models/${MODEL}/unload`, body: {} },
  { method: 'PUT', path: `/v1/models/${MODEL}/routing`, body: { champion: '1' } },
  { method: 'PATCH', path: `/v1/models/${MODEL}/routing`, body: { shadow: null } },
  { method: 'POST', path: `/v1/models/${MODEL}/routing/promote`, body: {} },
  { method: 'POST', path: `/v1/models/${MODEL}/routing/rollback`, body: {} },
];
const STATE_CHANGING = [...ADMIN_ROUTES.map((r) => ({ ...r, body: JSON.stringify(r.body) })), { method: 'POST', path: '/v1/feedback', body: '{"request_id":"x","label":"1"}' }];

/** What a page on another site can make a browser send without a CORS preflight. */
const SIMPLE_BODIES: { type?: string; body: string }[] = [
  { type: 'text/plain', body: '{"request_id":"x","label":"1"}' },
  { type: 'text/plain;charset=UTF-8', body: '{"champion":"1"}=' },
  { type: 'application/x-www-form-urlencoded', body: 'request_id=x&label=1' },
  { type: 'multipart/form-data; boundary=b', body: '--b\r\nContent-Disposition: form-data; name="label"\r\n\r\n1\r\n--b--\r\n' },
  // fetch(url, {mode: 'no-cors', method: 'POST', body: new Blob([json])}) sends no Content-Type at all.
  { type: undefined, body: '{"request_id":"x","label":"1"}' },
];

/** node:http rather than fetch: fetch may not set Host, and must send exactly the headers given. */
function raw(base: string, method: string, pathname: string, headers: Record<string, string> = {}, body?: string): Promise<JsonResponse & { rawHeaders: Record<string, string | string[] | undefined> }> {
  const url = new URL(pathname, base);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: url.hostname, port: url.port, path: url.pathname + url.search, method, headers: { ...(body !== undefined ? { 'content-length': String(Buffer.byteLength(body)) } : {}), ...headers } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = text;
          try {
            parsed = JSON.parse(text);
          } catch {
            // not JSON
          }
          const h = new Headers();
          for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) h.set(k, Array.isArray(v) ? v.join(', ') : v);
          resolve({ status: res.statusCode ?? 0, body: parsed, text, headers: h, rawHeaders: res.headers });
        });
      },
    );
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

async function metric(base: string, name: string, labels: string): Promise<number | undefined> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const escaped = labels.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const match = new RegExp(`^${name}\\{${escaped}\\} (\\S+)$`, 'm').exec(text);
  return match ? Number(match[1]) : undefined;
}

/** One batch prediction of `n` digits; its request id and each predicted label. */
async function predictDigits(base: string, n: number): Promise<{ requestId: string; labels: string[] }> {
  const inputs = Array.from({ length: n }, (_, i) => ({ pixels: pixelsFor(i % 10) }));
  const { status, body } = await postJson(`${base}/v1/models/${MODEL}/predict`, { inputs });
  expect(status, JSON.stringify(body)).toBe(200);
  return { requestId: body.request_id, labels: body.predictions.map((p: { label: string }) => p.label) };
}

let dir: string;
beforeAll(() => {
  dir = tempModelsDir('vigil-security-');
  writeTinyDigits(path.join(dir, MODEL));
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('defaults: no tokens, bound to loopback, no CORS', () => {
  let server: VigilProcess;
  beforeAll(async () => {
    server = await startVigil(['--no-embedded', '--model', path.join(dir, MODEL)]);
    await server.waitUntilReady();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('refuses every admin endpoint with 403 naming VIGIL_ADMIN_TOKEN, with or without a bearer token, and changes nothing', async () => {
    for (const route of ADMIN_ROUTES) {
      for (const headers of [{}, { authorization: 'Bearer guessed' }]) {
        const response = await raw(server.url, route.method, route.path, { 'content-type': 'application/json', ...headers }, JSON.stringify(route.body));
        expect(response.status, `${route.method} ${route.path}: ${response.text}`).toBe(403);
        expect(response.text).toContain('VIGIL_ADMIN_TOKEN');
      }
    }
    // Triton's clients post without a body: refused alike.
    expect((await raw(server.url, 'POST', `/v2/repository/models/${MODEL}/unload`)).status).toBe(403);
    expect((await getJson(`${server.url}/v2/models/${MODEL}/ready`)).status).toBe(200);
    expect(server.logs.some((l) => l.includes('VIGIL_ADMIN_TOKEN is not set') && l.includes('is off (403)'))).toBe(true);
    expect(server.logs.join('\n')).not.toContain('guessed');
  });

  it('answers the loopback names and IP literals, and 421 for any other Host (DNS rebinding)', async () => {
    const port = new URL(server.url).port;
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, 'LOCALHOST', 'app.localhost', `[::1]:${port}`, '10.1.2.3']) {
      expect((await raw(server.url, 'GET', '/alive', { host })).status, host).toBe(200);
    }
    for (const host of [`evil.example:${port}`, 'localhost.evil.example', 'vigil.internal']) {
      const refused = await raw(server.url, 'GET', '/v1/models', { host });
      expect(refused.status, host).toBe(421);
      expect(refused.body.error.code).toBe('misdirected_request');
      expect(refused.body.error.message).toContain('--allowed-hosts');
    }
    // Also before the body of a state-changing request is read.
    expect((await raw(server.url, 'POST', '/v1/feedback', { host: 'evil.example', 'content-type': 'application/json' }, '{}')).status).toBe(421);
  });

  it('sends no CORS header, to any origin, and approves no preflight', async () => {
    const get = await raw(server.url, 'GET', '/v1/models', { origin: 'http://evil.example' });
    expect(get.status).toBe(200);
    expect([...get.headers.keys()].filter((k) => k.startsWith('access-control-'))).toEqual([]);
    const preflight = await raw(server.url, 'OPTIONS', '/v1/feedback', { origin: 'http://evil.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' });
    expect(preflight.headers.get('access-control-allow-origin')).toBeNull();
    expect(preflight.headers.get('access-control-allow-methods')).toBeNull();
  });

  it('puts the browser headers on the playground and the docs, and nosniff on the API', async () => {
    for (const pathname of ['/v1/models', '/v2', '/metrics', '/alive', '/predict']) {
      const response = await raw(server.url, 'GET', pathname);
      expect(response.headers.get('x-content-type-options'), pathname).toBe('nosniff');
    }
    for (const pathname of ['/', '/docs', '/docs/static/index.html', '/favicon.svg', '/no-such-page']) {
      const response = await raw(server.url, 'GET', pathname);
      expect(response.status, pathname).toBeLessThan(pathname === '/no-such-page' ? 500 : 400);
      const csp = response.headers.get('content-security-policy') ?? '';
      expect(csp, pathname).toContain("default-src 'self'");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).toContain("object-src 'none'");
      expect(csp).not.toContain('unsafe-inline');
      expect(csp).not.toContain('unsafe-eval');
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
      expect(response.headers.get('x-frame-options')).toBe('DENY');
      expect(response.headers.get('referrer-policy')).toBe('no-referrer');
    }
  });

  it('feedback needs no token, refuses every form type with 415 before recording anything, and refuses a second label with 409', async () => {
    const { requestId, labels } = await predictDigits(server.url, 1);
    const item = JSON.stringify({ request_id: requestId, label: labels[0] });
    for (const { type, body } of [...SIMPLE_BODIES, { type: 'text/plain', body: item }]) {
      const response = await raw(server.url, 'POST', '/v1/feedback', type ? { 'content-type': type } : {}, body);
      expect(response.status, `${type}: ${response.text}`).toBe(415);
      expect(response.body.error.code).toBe('unsupported_media_type');
    }
    // Nothing counted (the series may be exported at 0 from the start).
    expect((await metric(server.url, 'vigil_feedback_total', `model="${MODEL}",version="1",outcome="correct"`)) ?? 0).toBe(0);
    const accepted = await raw(server.url, 'POST', '/v1/feedback', { 'content-type': 'application/json; charset=utf-8' }, item);
    expect(accepted.status, accepted.text).toBe(200);
    expect(accepted.body).toMatchObject({ correct: true });
    const again = await postJson(`${server.url}/v1/feedback`, { request_id: requestId, label: labels[0] === '1' ? '2' : '1' });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('already_labelled');
    expect(await metric(server.url, 'vigil_feedback_total', `model="${MODEL}",version="1",outcome="correct"`)).toBe(1);
    expect(await metric(server.url, 'vigil_feedback_rejected_total', 'reason="already_labelled"')).toBe(1);
  });
});

describe('configured: admin and feedback tokens, an allowed host, a CORS origin, a feedback rate limit', () => {
  let server: VigilProcess;
  const origin = 'http://app.example:5173';
  const admin = { authorization: `Bearer ${ADMIN}` };
  beforeAll(async () => {
    server = await startVigil(
      ['--no-embedded', '--model', path.join(dir, MODEL), '--allowed-hosts', 'vigil.example,.svc.example', '--cors-origin', origin, '--feedback-rate-limit', '30'],
      { VIGIL_ADMIN_TOKEN: ADMIN, VIGIL_FEEDBACK_TOKEN: FEEDBACK },
    );
    await server.waitUntilReady();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('with the admin token, refuses every form type on every state-changing route with 415, and the model stays loaded', async () => {
    for (const route of STATE_CHANGING) {
      const auth = route.path === '/v1/feedback' ? { authorization: `Bearer ${FEEDBACK}` } : admin;
      for (const { type, body } of SIMPLE_BODIES) {
        // The repository reads a body without a type as JSON: tritonclient.http's load_model and
        // unload_model post theirs so, and the Authorization header these routes require already
        // makes a cross-site request preflighted (test/integration/oip-clients.test.ts).
        if (type === undefined && route.path.startsWith('/v2/repository/')) continue;
        const response = await raw(server.url, route.method, route.path, { ...auth, ...(type ? { 'content-type': type } : {}) }, body);
        expect(response.status, `${route.method} ${route.path} ${type}: ${response.text}`).toBe(415);
      }
      // A declared non-JSON type with no body (an empty form) is refused too.
      expect((await raw(server.url, route.method, route.path, { ...auth, 'content-type': 'text/plain' })).status).toBe(415);
    }
    expect((await getJson(`${server.url}/v2/models/${MODEL}/ready`)).status).toBe(200);
    const routing = await getJson(`${server.url}/v1/models/${MODEL}/routing`);
    expect(routing.body).toMatchObject({ champion: '1' });
  });

  it('with the admin token, JSON or no body at all works (Triton clients post none); a wrong token is 401 with WWW-Authenticate', async () => {
    const none = await raw(server.url, 'POST', '/v2/repository/index', admin);
    expect(none.status, none.text).toBe(200);
    expect(none.body).toEqual([expect.objectContaining({ name: MODEL, state: 'READY' })]);
    const untyped = await raw(server.url, 'POST', '/v2/repository/index', admin, '{}');
    expect(untyped.status, untyped.text).toBe(200);
    const json = await postJson(`${server.url}/v2/repository/index`, { ready: true }, admin);
    expect(json.status).toBe(200);
    const routing = await raw(server.url, 'PATCH', `/v1/models/${MODEL}/routing`, { ...admin, 'content-type': 'application/json' }, '{"shadow": null}');
    expect(routing.status, routing.text).toBe(200);
    const wrong = await postJson(`${server.url}/v2/repository/index`, {}, { authorization: 'Bearer wrong' });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('www-authenticate')).toMatch(/^Bearer realm=/);
    const feedbackToken = await postJson(`${server.url}/v2/repository/index`, {}, { authorization: `Bearer ${FEEDBACK}` });
    expect(feedbackToken.status).toBe(401);
    expect(server.logs.join('\n')).not.toContain(ADMIN);
  });

  it('answers only the allowed names (and IP literals): 421 for localhost once a list is given', async () => {
    expect((await raw(server.url, 'GET', '/alive', { host: 'vigil.example:8000' })).status).toBe(200);
    expect((await raw(server.url, 'GET', '/alive', { host: 'vigil.example.' })).status).toBe(200);
    expect((await raw(server.url, 'GET', '/alive', { host: 'a.b.svc.example' })).status).toBe(200);
    expect((await raw(server.url, 'GET', '/alive', { host: 'svc.example' })).status).toBe(200);
    expect((await raw(server.url, 'GET', '/alive', { host: '127.0.0.1' })).status).toBe(200);
    for (const host of ['sub.vigil.example', 'localhost', 'vigil.example.evil', 'evilsvc.example']) {
      expect((await raw(server.url, 'GET', '/alive', { host })).status, host).toBe(421);
    }
  });

  it('CORS: the configured origin may read answers and send JSON after a preflight; another origin gets no header', async () => {
    const get = await raw(server.url, 'GET', '/v1/models', { origin });
    expect(get.headers.get('access-control-allow-origin')).toBe(origin);
    expect(get.headers.get('vary')).toMatch(/Origin/i);
    const preflight = await raw(server.url, 'OPTIONS', '/v1/feedback', { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type, authorization' });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe(origin);
    expect(preflight.headers.get('access-control-allow-methods')).toContain('POST');
    expect(preflight.headers.get('access-control-allow-headers')).toContain('content-type');
    expect(preflight.headers.get('access-control-allow-credentials')).toBeNull();
    for (const other of ['http://evil.example', 'http://app.example', 'https://app.example:5173']) {
      expect((await raw(server.url, 'GET', '/v1/models', { origin: other })).headers.get('access-control-allow-origin')).toBeNull();
      const refused = await raw(server.url, 'OPTIONS', '/v1/feedback', { origin: other, 'access-control-request-method': 'POST' });
      expect(refused.headers.get('access-control-allow-origin')).toBeNull();
    }
  });

  it('feedback: 401 without the feedback token or with the admin token; with it, labels count', async () => {
    const { requestId, labels } = await predictDigits(server.url, 1);
    const item = { request_id: requestId, label: labels[0] };
    const none = await postJson(`${server.url}/v1/feedback`, item);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer realm="vigil-feedback"/);
    expect(none.body.error.message).toContain('VIGIL_FEEDBACK_TOKEN');
    expect((await postJson(`${server.url}/v1/feedback`, item, admin)).status).toBe(401);
    expect(await metric(server.url, 'vigil_feedback_rejected_total', 'reason="unauthorized"')).toBe(2);
    const ok = await postJson(`${server.url}/v1/feedback`, item, { authorization: `Bearer ${FEEDBACK}` });
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    expect(server.logs.join('\n')).not.toContain(FEEDBACK);
  });

  it('one client: 29 more labels pass, the next 10 are 429 with Retry-After, a batch over the limit is 400; the source-share gauge shows one client set the window', async () => {
    const auth = { authorization: `Bearer ${FEEDBACK}` };
    const { requestId, labels } = await predictDigits(server.url, 40);
    // Wrong labels, as an attacker would send: accuracy drops, and the share gauge says who did it.
    const wrong = (label: string) => (label === '1' ? '2' : '1');
    const items = labels.map((label, index) => ({ request_id: requestId, index, label: wrong(label) }));
    const batch = await postJson(`${server.url}/v1/feedback`, { feedback: items.slice(0, 29) }, auth);
    expect(batch.status, JSON.stringify(batch.body)).toBe(200);
    // The bucket refills at 30 a minute: the next 10 cannot be there for the next 20 s.
    const limited = await postJson(`${server.url}/v1/feedback`, { feedback: items.slice(29, 39) }, auth);
    expect(limited.status).toBe(429);
    expect(limited.body.error.code).toBe('rate_limited');
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    const tooBig = await postJson(`${server.url}/v1/feedback`, { feedback: items.slice(0, 31) }, auth);
    expect(tooBig.status).toBe(400);
    expect(tooBig.body.error.message).toContain('--feedback-rate-limit');
    expect(await metric(server.url, 'vigil_feedback_rejected_total', 'reason="rate_limited"')).toBe(2);
    // 30 labels in the window (1 right, 29 wrong), all from 127.0.0.1.
    expect(await metric(server.url, 'vigil_online_window_size', `model="${MODEL}",version="1"`)).toBe(30);
    expect(await metric(server.url, 'vigil_online_accuracy', `model="${MODEL}",version="1"`)).toBeCloseTo(1 / 30, 6);
    expect(await metric(server.url, 'vigil_online_label_source_share', `model="${MODEL}",version="1"`)).toBe(1);
  });
});
