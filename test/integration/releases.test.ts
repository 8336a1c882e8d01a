import { spawn } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { splitPoint } from '../../src/serving/traffic-split.js';
import { waitFor } from '../helpers/prometheus.js';
import { CLI, getJson, postJson, readResponse, REPO_ROOT, startVigil, type JsonResponse, type VigilProcess } from '../helpers/server.js';
import { DIGIT_LABELS, pixelsFor, tempModelsDir, writeTinyDigits } from '../helpers/tiny-models.js';
import { sample } from './watchdog-helpers.js';

/**
 * Release management on a real server: three versions of one tiny digits model that answer
 * differently (version 2 calls a 0 a "1", version 3 calls a 2 a "3"; same graph, labels swapped
 * in the spec), a canary started from the command line, the routing API behind the admin token,
 * and a shadow. The split hashes the route key (or the request id), so the tests send known
 * keys and expect exact counts, computed with the server's own hash.
 */

const TOKEN = 'release-test-token';
const admin = { authorization: `Bearer ${TOKEN}` };
const swap = (a: number, b: number) => DIGIT_LABELS.map((label, i) => (i === a ? String(b) : i === b ? String(a) : label));

let server: VigilProcess;
let dir: string;
let modelDir: string;

const predictUrl = (suffix = '') => `${server.url}/v1/models/digits${suffix}/predict`;
const zero = { pixels: pixelsFor(0) };

async function metrics(): Promise<string> {
  return (await fetch(`${server.url}/metrics`)).text();
}
const count = (text: string, name: string, labels: Record<string, string>) => sample(text, name, labels) ?? 0;

/**
 * The metrics once every shadow copy has finished. A copy is counted in flight before its
 * request is answered, so after the answers are in, "none in flight" means all are accounted for.
 */
function settledMetrics(): Promise<string> {
  return waitFor(async () => {
    const text = await metrics();
    return count(text, 'vigil_shadow_requests_in_flight', { model: 'digits', version: '3' }) === 0 ? text : undefined;
  }, 'the shadow copies to finish');
}

async function routing(method: 'PUT' | 'PATCH' | 'POST', suffix: string, body?: unknown, headers: Record<string, string> = admin): Promise<JsonResponse> {
  const response = await fetch(`${server.url}/v1/models/digits/routing${suffix}`, {
    method,
    headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return readResponse(response);
}

/** Which version answers a key under a canary of version `challenger` at `weight` (the server's own rule). */
const expectedVersion = (key: string, champion: string, challenger: string, weight: number) =>
  splitPoint('canary', 'digits', challenger, key) < weight ? challenger : champion;

/** Runs `work` over `items`, `width` at a time (the machine has two cores; no need to queue hundreds). */
async function inBatches<T, R>(items: T[], width: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += width) out.push(...(await Promise.all(items.slice(i, i + width).map(work))));
  return out;
}

beforeAll(async () => {
  dir = tempModelsDir('vigil-releases-');
  modelDir = path.join(dir, 'digits');
  writeTinyDigits(path.join(modelDir, '1'), 'digits');
  writeTinyDigits(path.join(modelDir, '2'), 'digits', 'flat', { labels: swap(0, 1) });
  writeTinyDigits(path.join(modelDir, '3'), 'digits', 'flat', { labels: swap(2, 3) });
  server = await startVigil(['--no-embedded', '--model', modelDir, '--champion', 'digits=1', '--canary', 'digits=2:0.25'], { VIGIL_ADMIN_TOKEN: TOKEN });
  await server.waitUntilReady();
});

afterAll(async () => {
  await server?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('a canary started from the command line', () => {
  it('shows in the routing: champion 1, challenger 2 at 25%', async () => {
    const { status, body } = await getJson(`${server.url}/v1/models/digits/routing`);
    expect(status).toBe(200);
    expect(body).toMatchObject({ model: 'digits', champion: '1', champion_pinned: true, challenger: '2', canary_weight: 0.25, shadow: null });
    // The configured champion replaced nothing: there is no earlier champion to roll back to.
    expect(body.previous_champion).toBeNull();
    expect(body.versions).toEqual([
      { version: '1', state: 'ready', aliases: ['champion'] },
      { version: '2', state: 'ready', aliases: ['challenger'] },
      { version: '3', state: 'ready', aliases: [] },
    ]);
  });

  it('sends exactly the requests whose id hashes below 0.25 to version 2, and counts every decision', async () => {
    const before = await metrics();
    const ids = Array.from({ length: 200 }, (_, i) => `canary-split-${i}`);
    const answers = await inBatches(ids, 8, (id) => postJson(predictUrl(), zero, { 'x-request-id': id }));
    const expected = ids.map((id) => expectedVersion(id, '1', '2', 0.25));
    expect(answers.map((a) => a.status)).toEqual(ids.map(() => 200));
    expect(answers.map((a) => a.body.version)).toEqual(expected);
    // Version 2 really computed its answers: it calls a 0 a "1".
    for (const answer of answers) expect(answer.body.label).toBe(answer.body.version === '2' ? '1' : '0');
    expect(answers.map((a) => a.headers.get('x-vigil-route'))).toEqual(expected.map((v) => (v === '2' ? 'canary' : 'champion')));

    const toChallenger = expected.filter((v) => v === '2').length;
    // The hash spreads ids evenly: 200 draws at 25% land within ±4 standard errors of 50.
    expect(toChallenger).toBeGreaterThan(50 - 4 * Math.sqrt(200 * 0.25 * 0.75));
    expect(toChallenger).toBeLessThan(50 + 4 * Math.sqrt(200 * 0.25 * 0.75));

    const after = await metrics();
    const delta = (labels: Record<string, string>) => count(after, 'vigil_route_decisions_total', labels) - count(before, 'vigil_route_decisions_total', labels);
    expect(delta({ model: 'digits', version: '2', route: 'canary' })).toBe(toChallenger);
    expect(delta({ model: 'digits', version: '1', route: 'champion' })).toBe(200 - toChallenger);
    expect(count(after, 'vigil_route_weight', { model: 'digits', split: 'canary' })).toBe(0.25);
    expect(count(after, 'vigil_route_alias', { model: 'digits', alias: 'challenger', version: '2' })).toBe(1);
    expect(count(after, 'vigil_version_request_duration_seconds_count', { model: 'digits', version: '2', role: 'primary' })).toBeGreaterThanOrEqual(toChallenger);
  });

  it('keeps one route key on one version, from the header or the body (the body wins)', async () => {
    const keys = Array.from({ length: 40 }, (_, i) => `user-${i}`);
    const seen = await inBatches(keys, 4, async (key) => {
      const viaHeader = await postJson(predictUrl(), zero, { 'x-vigil-route-key': key });
      const viaBody = await postJson(predictUrl(), { ...zero, route_key: key });
      const again = await postJson(predictUrl(), zero, { 'x-vigil-route-key': key });
      return [viaHeader.body.version, viaBody.body.version, again.body.version];
    });
    expect(seen).toEqual(keys.map((key) => Array(3).fill(expectedVersion(key, '1', '2', 0.25))));

    const onCanary = keys.find((k) => expectedVersion(k, '1', '2', 0.25) === '2')!;
    const onChampion = keys.find((k) => expectedVersion(k, '1', '2', 0.25) === '1')!;
    const both = await postJson(predictUrl(), { ...zero, route_key: onCanary }, { 'x-vigil-route-key': onChampion });
    expect(both.body.version).toBe('2');
  });

  it('a bad route key is a 400 that names where it came from', async () => {
    const inBody = await postJson(predictUrl(), { ...zero, route_key: 42 });
    expect(inBody.status).toBe(400);
    expect(inBody.body.error).toMatchObject({ code: 'invalid_route_key' });
    expect(inBody.body.error.message).toMatch(/"route_key" must be a string/);
    const inHeader = await postJson(predictUrl(), zero, { 'x-vigil-route-key': 'x'.repeat(300) });
    expect(inHeader.status).toBe(400);
    expect(inHeader.body.error.message).toMatch(/header x-vigil-route-key must be a string of 1 to 256 characters/);
  });

  it('a named version or alias bypasses the split; an unknown one is a 404', async () => {
    const pinned = await inBatches(Array.from({ length: 20 }, (_, i) => `explicit-${i}`), 10, (id) => postJson(predictUrl('/versions/1'), zero, { 'x-request-id': id }));
    expect(pinned.map((a) => a.body.version)).toEqual(Array(20).fill('1'));
    expect(pinned.every((a) => a.headers.get('x-vigil-route') === 'explicit')).toBe(true);

    const challenger = await postJson(predictUrl('/versions/challenger'), zero);
    expect(challenger.body).toMatchObject({ version: '2', label: '1' });
    expect((await postJson(predictUrl('/versions/champion'), zero)).body.version).toBe('1');
    expect((await getJson(`${server.url}/v1/models/digits/versions/challenger`)).body.version).toBe('2');

    const unknown = await postJson(predictUrl('/versions/9'), zero);
    expect(unknown.status).toBe(404);
    expect(unknown.body.error).toMatchObject({ code: 'model_not_found', message: 'model "digits" has no version "9"' });
    // No shadow is set, so the alias names nothing.
    expect((await postJson(predictUrl('/versions/shadow'), zero)).status).toBe(404);
  });

  it('OIP inference follows the same split and says which version answered', async () => {
    const ids = Array.from({ length: 20 }, (_, i) => `oip-split-${i}`);
    const answers = await inBatches(ids, 10, (id) =>
      postJson(`${server.url}/v2/models/digits/infer`, { inputs: [{ name: 'pixels', shape: [1, 784], datatype: 'FP32', data: pixelsFor(0) }] }, { 'x-request-id': id }),
    );
    expect(answers.map((a) => a.body.model_version)).toEqual(ids.map((id) => expectedVersion(id, '1', '2', 0.25)));
  });
});

describe('the routing API', () => {
  it('refuses changes without the admin token (401), and never logs the token', async () => {
    const missing = await routing('PATCH', '', { canary_weight: 0.5 }, {});
    expect(missing.status).toBe(401);
    expect(missing.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(missing.body.error.code).toBe('unauthorized');
    const wrong = await routing('POST', '/promote', undefined, { authorization: 'Bearer not-the-token' });
    expect(wrong.status).toBe(401);
    expect(wrong.body.error.message).toBe('the admin token is wrong');
    // Nothing changed.
    expect((await getJson(`${server.url}/v1/models/digits/routing`)).body).toMatchObject({ champion: '1', canary_weight: 0.25 });
    expect(server.logs.join('\n')).not.toContain(TOKEN);
  });

  it('answers a bad change with a 400 that names the field, and an unknown version with a 404', async () => {
    const bad: [unknown, RegExp][] = [
      [{ canary_weight: 10 }, /"canary_weight" must be a number from 0 to 1/],
      [{ canaryWeight: 0.1 }, /unknown field "canaryWeight"/],
      [{ challenger: '1' }, /"challenger" must be another version than the champion \("1"\)/],
      [{ challenger: null }, /"canary_weight" is 0.25 but there is no "challenger"/],
      [{ shadow_weight: 'half' }, /"shadow_weight" must be a number/],
      [[1, 2], /the body must be a JSON object/],
    ];
    for (const [body, message] of bad) {
      const answer = await routing('PATCH', '', body);
      expect(answer.status, JSON.stringify(body)).toBe(400);
      expect(answer.body.error.code).toBe('invalid_routing');
      expect(answer.body.error.message).toMatch(message);
    }
    const notJson = await fetch(`${server.url}/v1/models/digits/routing`, { method: 'PUT', headers: { 'content-type': 'application/json', ...admin }, body: '{"canary' });
    expect(notJson.status).toBe(400);

    const unknownVersion = await routing('PATCH', '', { shadow: '9' });
    expect(unknownVersion.status).toBe(404);
    expect(unknownVersion.body.error).toMatchObject({ code: 'version_not_found', message: '"shadow": model "digits" has no version "9" (it has "1", "2", "3")' });
    expect((await getJson(`${server.url}/v1/models/nope/routing`)).status).toBe(404);
  });

  it('PUT replaces the routing, PATCH changes one field', async () => {
    const put = await routing('PUT', '', { champion: '1', challenger: '2', canary_weight: 0.1 });
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ champion: '1', champion_pinned: true, challenger: '2', canary_weight: 0.1, shadow: null });
    const patch = await routing('PATCH', '', { canary_weight: 0.5 });
    expect(patch.body).toMatchObject({ champion: '1', challenger: '2', canary_weight: 0.5 });

    const ids = Array.from({ length: 40 }, (_, i) => `half-${i}`);
    const answers = await inBatches(ids, 10, (id) => postJson(predictUrl(), zero, { 'x-request-id': id }));
    expect(answers.map((a) => a.body.version)).toEqual(ids.map((id) => expectedVersion(id, '1', '2', 0.5)));
  });

  it('promote sends everything to the challenger; rollback returns to the previous champion; a second rollback has nothing to undo', async () => {
    const promoted = await routing('POST', '/promote');
    expect(promoted.status).toBe(200);
    expect(promoted.body).toMatchObject({ champion: '2', champion_pinned: true, challenger: null, canary_weight: 0, previous_champion: '1' });
    const ids = Array.from({ length: 30 }, (_, i) => `after-promote-${i}`);
    const afterPromote = await inBatches(ids, 10, (id) => postJson(predictUrl(), zero, { 'x-request-id': id }));
    expect(afterPromote.map((a) => [a.body.version, a.headers.get('x-vigil-route')])).toEqual(ids.map(() => ['2', 'champion']));
    expect((await postJson(`${server.url}/predict`, zero)).body.version).toBe('2');

    const rolledBack = await routing('POST', '/rollback', {});
    expect(rolledBack.status).toBe(200);
    expect(rolledBack.body).toMatchObject({ rolled_back: 'promotion', champion: '1', challenger: '2', canary_weight: 0, previous_champion: null });
    const afterRollback = await inBatches(ids, 10, (id) => postJson(predictUrl(), zero, { 'x-request-id': id }));
    expect(afterRollback.map((a) => a.body.version)).toEqual(ids.map(() => '1'));

    const again = await routing('POST', '/rollback');
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('nothing_to_roll_back');
  });

  it('rollback during a canary stops the canary and keeps the champion', async () => {
    await routing('PATCH', '', { canary_weight: 0.3 });
    const stopped = await routing('POST', '/rollback');
    expect(stopped.body).toMatchObject({ rolled_back: 'canary', champion: '1', challenger: '2', canary_weight: 0 });
    const ids = Array.from({ length: 30 }, (_, i) => `stopped-${i}`);
    const answers = await inBatches(ids, 10, (id) => postJson(predictUrl(), zero, { 'x-request-id': id }));
    expect(answers.every((a) => a.body.version === '1')).toBe(true);
  });

  it('changing the champion in the middle of a burst of requests fails none of them', async () => {
    const burst = Array.from({ length: 60 }, (_, i) => postJson(predictUrl(), zero, { 'x-request-id': `burst-${i}` }));
    const promoted = await routing('PUT', '', { champion: '3' });
    const answers = await Promise.all(burst);
    expect(promoted.status).toBe(200);
    expect(answers.map((a) => a.status)).toEqual(Array(60).fill(200));
    for (const answer of answers) expect(['1', '3']).toContain(answer.body.version);
    // Everything after the change goes to the new champion.
    expect((await postJson(predictUrl(), zero)).body.version).toBe('3');
    await routing('PUT', '', { champion: '1' });
  });
});

describe('a shadow version', () => {
  it('sees a copy of every request but never answers one; its agreement with the primary is counted per input', async () => {
    expect((await routing('PUT', '', { champion: '1', shadow: '3' })).status).toBe(200);
    const before = await metrics();
    // Version 3 calls a 2 a "3" and agrees on every other digit.
    const digits = [...Array(15).fill(2), ...Array(15).fill(5)] as number[];
    const answers = await inBatches(digits, 6, (digit) => postJson(predictUrl(), { pixels: pixelsFor(digit) }));
    expect(answers.map((a) => [a.status, a.body.version, a.body.label])).toEqual(digits.map((d) => [200, '1', String(d)]));

    const after = await settledMetrics();
    const delta = (name: string, labels: Record<string, string>) => count(after, name, labels) - count(before, name, labels);
    expect(delta('vigil_shadow_requests_total', { model: 'digits', version: '3', outcome: 'ok' })).toBe(30);
    expect(delta('vigil_shadow_comparisons_total', { model: 'digits', version: '3', primary_version: '1', result: 'disagree' })).toBe(15);
    expect(delta('vigil_shadow_comparisons_total', { model: 'digits', version: '3', primary_version: '1', result: 'agree' })).toBe(15);
    // The shadow's prediction mix is measured per version...
    expect(delta('vigil_predictions_total', { model: 'digits', version: '3', label: '3' })).toBe(15);
    expect(delta('vigil_version_request_duration_seconds_count', { model: 'digits', version: '3', role: 'shadow' })).toBe(30);
    // ...but the shadow answered no one: no route decision, and the served-request counter saw 30, not 60.
    expect(delta('vigil_route_decisions_total', { model: 'digits', version: '3', route: 'champion' })).toBe(0);
    expect(delta('requests_local_total', {})).toBe(30);
    expect(count(after, 'vigil_route_alias', { model: 'digits', alias: 'shadow', version: '3' })).toBe(1);
  });

  it('a delayed label joins the answer the caller got, and scores the shadow copy beside it', async () => {
    const answer = await postJson(predictUrl(), { pixels: pixelsFor(2) });
    expect(answer.body.version).toBe('1');
    const before = await settledMetrics();
    const feedback = await postJson(`${server.url}/v1/feedback`, { request_id: answer.body.request_id, label: '2' });
    expect(feedback.status).toBe(200);
    expect(feedback.body).toMatchObject({ version: '1', predicted: '2', correct: true, shadows: [{ version: '3', predicted: '3', correct: false }] });
    const after = await metrics();
    const delta = (version: string, outcome: string) =>
      count(after, 'vigil_feedback_total', { model: 'digits', version, outcome }) - count(before, 'vigil_feedback_total', { model: 'digits', version, outcome });
    expect([delta('1', 'correct'), delta('3', 'incorrect')]).toEqual([1, 1]);
  });

  it('shadow_weight copies exactly the keys that hash below it', async () => {
    await routing('PATCH', '', { shadow_weight: 0.5 });
    const before = await metrics();
    const keys = Array.from({ length: 40 }, (_, i) => `shadow-key-${i}`);
    await inBatches(keys, 8, (key) => postJson(predictUrl(), zero, { 'x-vigil-route-key': key }));
    const copied = keys.filter((key) => splitPoint('shadow', 'digits', '3', key) < 0.5).length;
    const after = await settledMetrics();
    const labels = { model: 'digits', version: '3', outcome: 'ok' };
    expect(count(after, 'vigil_shadow_requests_total', labels) - count(before, 'vigil_shadow_requests_total', labels)).toBe(copied);
    expect(copied).toBeGreaterThan(0);
    expect(copied).toBeLessThan(40);
    await routing('PUT', '', { champion: '1' });
  });
});

describe('routing from a config file', () => {
  /** Runs `vigil serve` expecting it to refuse to start; resolves with its exit code and output. */
  function refusedStart(args: string[]): Promise<{ code: number | null; output: string }> {
    return new Promise((resolve) => {
      const child = spawn(process.execPath, [CLI, 'serve', '--host', '127.0.0.1', '--port', '0', '--no-embedded', '--model', modelDir, ...args], {
        cwd: REPO_ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.once('exit', (code) => resolve({ code, output }));
    });
  }

  it('starts with the champion, challenger and shadow it names; flags change single fields', async () => {
    const file = path.join(dir, 'vigil.json');
    writeFileSync(file, JSON.stringify({ routing: { digits: { champion: '2', challenger: '3', canary_weight: 0.2, shadow: '1' } } }));
    const configured = await startVigil(['--no-embedded', '--model', modelDir, '--config', file, '--canary', 'digits=3:0.4']);
    try {
      const { body } = await getJson(`${configured.url}/v1/models/digits/routing`);
      expect(body).toMatchObject({ champion: '2', champion_pinned: true, challenger: '3', canary_weight: 0.4, shadow: '1', shadow_weight: 1 });
    } finally {
      await configured.stop();
    }
  });

  it('refuses to start on a bad routing setting, naming it (exit 2)', async () => {
    const unknownVersion = await refusedStart(['--canary', 'digits=9:0.1']);
    expect(unknownVersion.code).toBe(2);
    expect(unknownVersion.output).toContain('routing.digits: "challenger": model "digits" has no version "9"');

    const badWeight = await refusedStart(['--canary', 'digits=2:10']);
    expect(badWeight.code).toBe(2);
    expect(badWeight.output).toContain('--canary digits=2:10: "canary_weight" must be a number from 0 to 1');

    const file = path.join(dir, 'bad.json');
    writeFileSync(file, JSON.stringify({ routing: { digits: { canaryWeight: 0.1 } } }));
    const badField = await refusedStart(['--config', file]);
    expect(badField.code).toBe(2);
    expect(badField.output).toContain('unknown field "routing.digits.canaryWeight"');

    const unknownModel = await refusedStart(['--shadow', 'spam=2']);
    expect(unknownModel.code).toBe(2);
    expect(unknownModel.output).toContain('routing.spam: no model "spam" is served');
  });
});
