import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Value } from 'typebox/value';
import { resolveServeConfig } from '../../src/config/serve-config.js';
import { startServer, type RunningServer } from '../../src/http/server.js';

/**
 * Every route, in process with `app.inject()`, driven by the OpenAPI document the server
 * publishes: each operation's own request example (what Swagger's "Try it out" sends) is sent,
 * and the answer must match the schema the document gives for its status. Then the document
 * itself: success and error schemas for every operation, the admin bearer scheme, descriptions
 * that survive Markdown rendering.
 */

const TOKEN = 'inject-admin-token';
let server: RunningServer;
let doc: any;
const savedToken = process.env.VIGIL_ADMIN_TOKEN;

beforeAll(async () => {
  process.env.VIGIL_ADMIN_TOKEN = TOKEN;
  server = await startServer(resolveServeConfig({ host: '127.0.0.1', port: 0, grpcPort: 0, logLevel: 'silent' }));
  for (let i = 0; i < 600 && !(await server.app.inject({ method: 'GET', url: '/ready' })).json().ready; i++) await new Promise((r) => setTimeout(r, 100));
  doc = (await server.app.inject({ method: 'GET', url: '/docs/json' })).json();
}, 120_000);

afterAll(async () => {
  await server?.shutdown('test');
  if (savedToken === undefined) delete process.env.VIGIL_ADMIN_TOKEN;
  else process.env.VIGIL_ADMIN_TOKEN = savedToken;
});

type Operation = { method: string; path: string; op: any };
const operations = (): Operation[] =>
  Object.entries(doc.paths as Record<string, Record<string, any>>).flatMap(([path, ops]) => Object.entries(ops).map(([method, op]) => ({ method: method.toUpperCase(), path, op })));

const isOip = (path: string) => path === '/v2' || path.startsWith('/v2/');

/** The schema the document gives for this status, JSON or text. */
function documentedSchema(op: any, status: number): any {
  const response = op.responses[String(status)];
  expect(response, `${op.summary}: no response documented for ${status}`).toBeDefined();
  const content = response.content ?? {};
  return (content['application/json'] ?? content['text/plain'])?.schema;
}

async function send(method: string, url: string, body?: unknown, headers: Record<string, string> = {}) {
  return server.app.inject({
    method: method as 'GET',
    url,
    headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
    ...(body !== undefined ? { payload: JSON.stringify(body) } : {}),
  });
}

function expectDocumented(op: any, response: { statusCode: number; headers: Record<string, unknown>; body: string }, what: string): any {
  const schema = documentedSchema(op, response.statusCode);
  const contentType = String(response.headers['content-type'] ?? '');
  const value = contentType.startsWith('application/json') ? JSON.parse(response.body) : response.body;
  const errors = [...Value.Errors(schema, value)].slice(0, 3).map((e: any) => `${e.instancePath} ${e.message}`);
  expect(errors, `${what} answered ${response.statusCode} off its documented schema: ${response.body.slice(0, 300)}`).toEqual([]);
  return value;
}

/** The path with each parameter's documented example. */
function exampleUrl(path: string, op: any, overrides: Record<string, string> = {}): string {
  return path.replace(/\{(\w+)\}/g, (_, name: string) => {
    const param = (op.parameters ?? []).find((p: any) => p.in === 'path' && p.name === name);
    const example = overrides[name] ?? param?.example ?? param?.schema?.example;
    expect(example, `${path}: path parameter ${name} has no example`).toBeDefined();
    return encodeURIComponent(String(example));
  });
}

/** Which model an example is meant for (the predict examples name it in their summary). */
const modelOfExample = (summary: string | undefined) => summary?.split(':')[0]?.split(' ')[0];

describe('the OpenAPI document', () => {
  it('has a summary, a success schema and error schemas with the envelope for every operation', () => {
    const ops = operations();
    expect(ops.length).toBeGreaterThanOrEqual(29);
    for (const { method, path, op } of ops) {
      const where = `${method} ${path}`;
      expect(op.summary, where).toMatch(/\S/);
      const statuses = Object.keys(op.responses).map(Number);
      const success = statuses.filter((s) => s >= 200 && s < 300);
      expect(success.length, `${where}: no 2xx response`).toBeGreaterThan(0);
      for (const status of success) expect(documentedSchema(op, status), `${where} ${status}`).toBeDefined();
      const errors = statuses.filter((s) => s >= 400 && !(path.endsWith('ready') || path.endsWith('/health') ? s === 503 : false));
      expect(errors.some((s) => s < 500), `${where}: no 4xx documented`).toBe(true);
      expect(errors.some((s) => s >= 500), `${where}: no 5xx documented`).toBe(true);
      for (const status of errors) {
        const schema = documentedSchema(op, status);
        if (isOip(path)) expect(schema?.properties?.error?.type, `${where} ${status}`).toBe('string');
        else expect(schema?.properties?.error?.required, `${where} ${status}`).toEqual(['code', 'message', 'request_id']);
      }
    }
  });

  it('declares the admin bearer scheme and puts every admin operation under it', () => {
    expect(doc.components.securitySchemes.adminToken).toMatchObject({ type: 'http', scheme: 'bearer' });
    const admin = operations().filter(({ method, path }) => path.startsWith('/v2/repository/') || (path.includes('/routing') && method !== 'GET'));
    expect(admin).toHaveLength(7);
    for (const { op, path } of admin) expect(op.security, path).toEqual([{ adminToken: [] }]);
  });

  it('says things that survive rendering and are true', () => {
    const texts: string[] = [];
    const walk = (node: unknown) => {
      if (Array.isArray(node)) node.forEach(walk);
      else if (node && typeof node === 'object') {
        for (const [key, value] of Object.entries(node)) {
          if ((key === 'description' || key === 'summary') && typeof value === 'string') texts.push(value);
          else walk(value);
        }
      }
    };
    walk(doc);
    for (const text of texts) {
      // <word> outside backticks is an HTML tag to Swagger UI's Markdown: it vanishes.
      expect(text.replace(/`[^`]*`/g, ''), text).not.toMatch(/<[A-Za-z]/);
    }
    // Unaddressed OIP calls are answered by the champion (routing may pin one), as on the JSON API.
    for (const path of ['/v2/models/{name}/infer', '/v2/models/{name}', '/v2/models/{name}/ready']) {
      const op = Object.values(doc.paths[path])[0] as any;
      expect(op.summary, path).toMatch(/champion/);
      expect(op.summary, path).not.toMatch(/newest/);
    }
  });

  it('gives every request body an example, none of them a generated placeholder', () => {
    for (const { method, path, op } of operations()) {
      if (!op.requestBody) continue;
      const media = op.requestBody.content['application/json'];
      const examples = media.examples ? Object.values(media.examples).map((e: any) => e.value) : [media.example ?? media.schema?.example];
      expect(examples.filter((e) => e !== undefined).length, `${method} ${path}`).toBeGreaterThan(0);
      expect(JSON.stringify(examples), `${method} ${path}`).not.toContain('additionalProp');
    }
  });
});

describe('every route, as "Try it out" calls it', () => {
  it('answers each documented example with a documented answer', async () => {
    const admin = { authorization: `Bearer ${TOKEN}` };
    const tried: string[] = [];
    for (const { method, path, op } of operations()) {
      // The repository's load and unload change what is served: tried on spam at the end.
      if (path.startsWith('/v2/repository/models/')) continue;
      const headers = op.security?.some((s: any) => 'adminToken' in s) ? admin : {};
      const media = op.requestBody?.content['application/json'];
      const examples: { summary?: string; value?: unknown }[] = media?.examples
        ? Object.values(media.examples)
        : [{ value: media ? (media.example ?? media.schema?.example) : undefined }];
      for (const example of examples) {
        const model = path.includes('{name}') && path.includes('predict') ? modelOfExample(example.summary) : undefined;
        const url = exampleUrl(path, op, model ? { name: model } : {});
        const response = await send(method, url, example.value, headers);
        const what = `${method} ${url} ${example.summary ?? ''}`;
        expectDocumented(op, response, what);
        tried.push(`${what} -> ${response.statusCode}`);
        if (model === 'positive-thought') expect(response.statusCode, what).toBe(503); // no HF_TOKEN here
        else if (path === '/v1/feedback') expect(response.statusCode, what).toBe(404); // a placeholder id
        else if (path.endsWith('/promote') || path.endsWith('/rollback')) expect(response.statusCode, what).toBeGreaterThanOrEqual(400); // no challenger, nothing to undo
        else expect(response.statusCode, what).toBeLessThan(300);
      }
    }
    expect(tried.length).toBeGreaterThanOrEqual(30);
  });

  it('joins a real label on /v1/feedback', async () => {
    const predicted = await send('POST', '/v1/models/spam/predict', { text: 'WIN a FREE cruise now' });
    const id = predicted.json().request_id;
    const op = doc.paths['/v1/feedback'].post;
    const joined = expectDocumented(op, await send('POST', '/v1/feedback', { request_id: id, label: 'spam' }), 'feedback');
    expect(joined).toMatchObject({ label: 'spam' });
  });

  it('loads and unloads through the repository with documented answers', async () => {
    const admin = { authorization: `Bearer ${TOKEN}` };
    const unload = doc.paths['/v2/repository/models/{name}/unload'].post;
    const load = doc.paths['/v2/repository/models/{name}/load'].post;
    expect(expectDocumented(unload, await send('POST', '/v2/repository/models/spam/unload', undefined, admin), 'unload')).toEqual({});
    expect(expectDocumented(load, await send('POST', '/v2/repository/models/spam/load', undefined, admin), 'load')).toEqual({});
    expectDocumented(load, await send('POST', '/v2/repository/models/nope/load', undefined, admin), 'load unknown');
    expectDocumented(unload, await send('POST', '/v2/repository/models/spam/unload', undefined, {}), 'unload without token');
  });

  it("answers each operation's mistakes with its documented error envelope", async () => {
    for (const { method, path, op } of operations()) {
      if (path.includes('{name}')) {
        const response = await send(method, exampleUrl(path, op, { name: 'no-such-model' }), op.requestBody ? {} : undefined, { authorization: `Bearer ${TOKEN}` });
        expect(response.statusCode, `${method} ${path}`).toBeGreaterThanOrEqual(400);
        expectDocumented(op, response, `${method} ${path} (unknown model)`);
      }
      if (op.requestBody) {
        const response = await server.app.inject({ method: method as 'POST', url: exampleUrl(path, op), headers: { 'content-type': 'text/plain', authorization: `Bearer ${TOKEN}` }, payload: 'hello' });
        expect(response.statusCode, `${method} ${path} text/plain`).toBe(415);
        expectDocumented(op, response, `${method} ${path} (text/plain)`);
      }
    }
    const health = doc.paths['/health'].get;
    expectDocumented(health, await send('GET', '/health?deep=maybe'), '/health?deep=maybe');
    const predict = doc.paths['/predict'].post;
    const bad = await send('POST', '/predict', { text: 42 });
    expect(bad.statusCode).toBe(400);
    expectDocumented(predict, bad, 'predict with a number');
    const wrongMethod = await send('GET', '/predict');
    expect(wrongMethod.statusCode).toBe(405);
    expect(wrongMethod.headers.allow).toBe('POST');
  });
});
