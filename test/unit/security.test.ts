import { describe, expect, it } from 'vitest';
import { parseCorsOrigins } from '../../src/http/security/cors.js';
import { DOCS_CONTENT_SECURITY_POLICY, isApiPath } from '../../src/http/security/headers.js';
import { hostAllowlist, hostName, isLoopbackAddress, parseAllowedHosts } from '../../src/http/security/host-allowlist.js';
import { ClientRateLimiter } from '../../src/http/security/rate-limit.js';
import { mediaType } from '../../src/http/content-type.js';
import { isStateChanging } from '../../src/http/security/state-changing.js';

describe('Host allowlist', () => {
  it('reads the name of a Host header: lower case, no port, no brackets, no root dot', () => {
    expect(hostName('Vigil.Example:8000')).toBe('vigil.example');
    expect(hostName('vigil.example.')).toBe('vigil.example');
    expect(hostName('[::1]:8000')).toBe('::1');
    expect(hostName('127.0.0.1')).toBe('127.0.0.1');
  });

  it('takes the loopback names by default only when bound to loopback', () => {
    expect(isLoopbackAddress('127.0.0.1')).toBe(true);
    expect(isLoopbackAddress('::1')).toBe(true);
    expect(isLoopbackAddress('0.0.0.0')).toBe(false);
    const loopback = hostAllowlist(undefined, '127.0.0.1');
    expect(loopback.allows('localhost:8000')).toBe(true);
    expect(loopback.allows('a.localhost')).toBe(true);
    expect(loopback.allows('evil.example')).toBe(false);
    expect(loopback.allows('localhost.evil.example')).toBe(false);
    expect(loopback.allows(undefined)).toBe(false);
    expect(hostAllowlist(undefined, '0.0.0.0').entries).toBeUndefined();
    expect(hostAllowlist(undefined, '0.0.0.0').allows('anything.example')).toBe(true);
  });

  it('matches exact names, subdomains for a leading dot or *., any name for *, and always IP literals', () => {
    const list = hostAllowlist(parseAllowedHosts(['vigil.example,*.svc.example']), '0.0.0.0');
    expect(list.allows('vigil.example')).toBe(true);
    expect(list.allows('x.vigil.example')).toBe(false);
    expect(list.allows('svc.example')).toBe(true);
    expect(list.allows('a.b.svc.example')).toBe(true);
    expect(list.allows('evilsvc.example')).toBe(false);
    expect(list.allows('10.0.0.7:8000')).toBe(true);
    expect(list.allows('[fe80::1]')).toBe(true);
    expect(hostAllowlist(['*'], '127.0.0.1').allows('x')).toBe(true);
    expect(() => parseAllowedHosts(['http://vigil.example'])).toThrow(/not a host name/);
  });
});

describe('CORS origins', () => {
  it('takes exact origins and *, and refuses paths or bare hosts', () => {
    expect(parseCorsOrigins(['https://app.example, http://localhost:5173/'])).toEqual(['https://app.example', 'http://localhost:5173']);
    expect(parseCorsOrigins(['*'])).toEqual(['*']);
    expect(() => parseCorsOrigins(['https://app.example/path'])).toThrow(/scheme:\/\/host/);
    expect(() => parseCorsOrigins(['app.example'])).toThrow(/not an origin/);
  });
});

describe('state-changing routes', () => {
  it('are the repository, routing changes and feedback, and routes that say so', () => {
    expect(isStateChanging({ method: 'POST', url: '/v2/repository/index' })).toBe(true);
    expect(isStateChanging({ method: 'POST', url: '/v2/repository/models/:name/unload' })).toBe(true);
    expect(isStateChanging({ method: 'PUT', url: '/v1/models/:name/routing' })).toBe(true);
    expect(isStateChanging({ method: 'POST', url: '/v1/models/:name/routing/promote' })).toBe(true);
    expect(isStateChanging({ method: 'GET', url: '/v1/models/:name/routing' })).toBe(false);
    expect(isStateChanging({ method: 'POST', url: '/v1/feedback' })).toBe(true);
    expect(isStateChanging({ method: 'POST', url: '/v1/models/:name/predict' })).toBe(false);
    expect(isStateChanging({ method: 'POST', url: '/v1/anything', config: { stateChanging: true } })).toBe(true);
    expect(mediaType('Application/JSON; charset=utf-8')).toBe('application/json');
  });
});

describe('per-client rate limit', () => {
  it('allows a burst up to the limit, then says how long to wait, and refills with time', () => {
    let now = 0;
    const limiter = new ClientRateLimiter(60, () => now);
    expect(limiter.take('a', 60)).toBe(0);
    expect(limiter.take('a', 1)).toBe(1);
    expect(limiter.take('b', 1)).toBe(0); // clients are separate
    now += 10_000;
    expect(limiter.take('a', 10)).toBe(0);
    expect(limiter.take('a', 5)).toBe(5);
  });

  it('keeps memory bounded: idle clients go first, then the least recently seen', () => {
    let now = 0;
    const limiter = new ClientRateLimiter(10, () => now, 3);
    for (const client of ['a', 'b', 'c', 'd']) limiter.take(client, 1);
    expect(limiter.clients).toBe(3);
    now += 60_000;
    limiter.take('e', 1);
    limiter.take('f', 1);
    limiter.take('g', 1);
    limiter.take('h', 1);
    expect(limiter.clients).toBeLessThanOrEqual(3);
  });
});

describe('security headers', () => {
  it('tells API paths (nosniff only) from pages (the full set)', () => {
    for (const url of ['/v1/models', '/v2', '/v2/models/x/infer', '/predict', '/metrics', '/alive', '/ready', '/health?deep=1']) expect(isApiPath(url), url).toBe(true);
    for (const url of ['/', '/docs', '/docs/static/index.html', '/assets/index.js', '/v2x', '/predictions', '/healthz']) expect(isApiPath(url), url).toBe(false);
  });

  it("allows /docs exactly one inline style, by hash (Swagger UI's logo), and never unsafe-inline", () => {
    expect(DOCS_CONTENT_SECURITY_POLICY).toContain("style-src 'self' 'sha256-RL3ie0nH+Lzz2YNqQN83mnU0J1ot4QL7b99vMdIX99w='");
    expect(DOCS_CONTENT_SECURITY_POLICY).not.toContain('unsafe');
  });
});
