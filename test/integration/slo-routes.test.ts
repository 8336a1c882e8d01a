import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveServeConfig } from '../../src/config/serve-config.js';
import { startServer, type RunningServer } from '../../src/http/server.js';
import { SELF_ROUTES } from '../../src/observability/history.js';
import { REPO_ROOT } from '../helpers/server.js';

/**
 * "API traffic" is defined twice: by the in-process history (SELF_ROUTES) and by the
 * Prometheus rules and dashboard (a `route!~` regex over the route label). Every route the
 * server publishes must be on the same side of both, or the SLO and the Monitor tab disagree
 * (a probe the regex missed dilutes the error ratio with its 200s, or pages on its readiness
 * 503s during a rolling deploy).
 */

let server: RunningServer;
let routes: string[];

beforeAll(async () => {
  server = await startServer(resolveServeConfig({ host: '127.0.0.1', port: 0, grpcPort: 0, logLevel: 'silent', modelsDir: '' }));
  const doc = (await server.app.inject({ method: 'GET', url: '/docs/json' })).json() as { paths: Record<string, unknown> };
  // OpenAPI writes /v2/models/{name}; the route label is fastify's template, /v2/models/:name.
  routes = Object.keys(doc.paths).map((p) => p.replace(/\{([^}]+)\}/g, ':$1'));
}, 60_000);

afterAll(async () => {
  await server?.shutdown('test');
});

/** Every `route!~"..."` in a file, unescaped from JSON where needed. */
function exclusionsIn(file: string): string[] {
  const text = readFileSync(path.join(REPO_ROOT, file), 'utf8');
  return [...text.matchAll(/route!~\\?"([^"\\]+)\\?"/g)].map((m) => m[1]!);
}

describe('API traffic: one definition in the history and in Prometheus', () => {
  const files = ['deploy/prometheus/rules/recording.yml', 'deploy/grafana/dashboards/vigil.json'];

  it('every rule and dashboard query leaves out the same routes', () => {
    const found = files.flatMap(exclusionsIn);
    expect(found.length).toBeGreaterThan(10);
    expect(new Set(found).size, [...new Set(found)].join('\n')).toBe(1);
  });

  it('each published route is left out by both or by neither', () => {
    // Prometheus anchors a label regex at both ends.
    const excluded = new RegExp(`^(?:${exclusionsIn(files[0]!)[0]})$`);
    expect(routes).toContain('/v2/models/:name/infer');
    const disagreements = routes.filter((route) => SELF_ROUTES.has(route) !== excluded.test(route));
    expect(disagreements).toEqual([]);
    // Every route SELF_ROUTES names exists, so a renamed probe cannot silently count again.
    expect([...SELF_ROUTES].filter((route) => !routes.includes(route))).toEqual([]);
    // And the API stays in: predictions, inference, feedback, metadata.
    for (const api of ['/predict', '/v1/models/:name/predict', '/v2/models/:name/infer', '/v2/models/:name/versions/:version/infer', '/v1/feedback', '/v2/models/:name']) {
      expect(excluded.test(api), api).toBe(false);
    }
  });
});
