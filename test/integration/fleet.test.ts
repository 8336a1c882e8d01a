import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/prometheus.js';
import { PG_PASSWORD, requirePostgres, startPostgres, type PostgresCluster } from '../helpers/postgres.js';
import { getJson, postJson, readResponse, startVigil, type VigilProcess } from '../helpers/server.js';
import { DIGIT_LABELS, pixelsFor, tempModelsDir, writeTinyDigits } from '../helpers/tiny-models.js';
import { sample } from './watchdog-helpers.js';

/**
 * A fleet of two real Vigil processes sharing one real PostgreSQL (Debian's, a private cluster
 * started by this file), as behind a load balancer: a label sent to the replica that did not
 * answer joins; a routing change made on one replica is applied by the other and survives a
 * restart; PostgreSQL stopped and restarted under load fails no prediction, and every row is
 * either in the database or counted as dropped.
 */

const available = requirePostgres('fleet (two replicas, one PostgreSQL)');
const TOKEN = 'fleet-test-token';
const admin = { authorization: `Bearer ${TOKEN}` };
const BUFFER_ROWS = 40;

describe.skipIf(!available)('a fleet of two replicas on one PostgreSQL', () => {
  let pgc: PostgresCluster;
  let dir: string;
  let a: VigilProcess;
  let b: VigilProcess;
  let passwordFile: string;

  const startReplica = (name: string) =>
    startVigil(['--no-embedded', '--model', path.join(dir, 'digits'), '--champion', 'digits=1', '--prediction-log', pgc.url, '--prediction-log-buffer-rows', String(BUFFER_ROWS)], {
      VIGIL_ADMIN_TOKEN: TOKEN,
      // One replica reads the password from a 0600 file, the other from the environment.
      ...(name === 'a' ? { VIGIL_PREDICTION_LOG_PASSWORD_FILE: passwordFile } : { VIGIL_PREDICTION_LOG_PASSWORD: PG_PASSWORD }),
    });
  const metrics = async (server: VigilProcess) => (await fetch(`${server.url}/metrics`)).text();
  const predict = (server: VigilProcess, digit = 0) => postJson(`${server.url}/v1/models/digits/predict`, { pixels: pixelsFor(digit) });

  beforeAll(async () => {
    pgc = await startPostgres();
    dir = tempModelsDir('vigil-fleet-');
    writeTinyDigits(path.join(dir, 'digits', '1'), 'digits');
    // Version 2 calls a 0 a "1": which version answered is visible in the label.
    writeTinyDigits(path.join(dir, 'digits', '2'), 'digits', 'flat', { labels: DIGIT_LABELS.map((l, i) => (i === 0 ? '1' : i === 1 ? '0' : l)) });
    passwordFile = path.join(dir, 'pg-password');
    writeFileSync(passwordFile, `${PG_PASSWORD}\n`, { mode: 0o600 });
    [a, b] = await Promise.all([startReplica('a'), startReplica('b')]);
    await Promise.all([a.waitUntilReady(), b.waitUntilReady()]);
    await Promise.all([a.waitForLog(/prediction log connected/), b.waitForLog(/prediction log connected/)]);
  }, 180_000);

  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    pgc?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('a prediction answered by one replica is joined by feedback sent to the other', async () => {
    const onA = await predict(a, 0);
    expect(onA.status).toBe(200);
    const onB = await predict(b, 3);
    // Each label goes to the replica that did not answer.
    const fromB = await postJson(`${b.url}/v1/feedback`, { request_id: onA.body.request_id, label: '0' });
    expect(fromB.status).toBe(200);
    expect(fromB.body).toMatchObject({ request_id: onA.body.request_id, model: 'digits', version: '1', predicted: '0', label: '0', correct: true });
    const fromA = await postJson(`${a.url}/v1/feedback`, { request_id: onB.body.request_id, label: '5' });
    expect(fromA.status).toBe(200);
    expect(fromA.body).toMatchObject({ predicted: '3', label: '5', correct: false });
    // Labelled once for the fleet: the other replica refuses a second label.
    expect((await postJson(`${a.url}/v1/feedback`, { request_id: onA.body.request_id, label: '0' })).status).toBe(409);
    expect((await postJson(`${b.url}/v1/feedback`, { request_id: 'never-made', label: '0' })).status).toBe(404);
    // Two writers, one table: the rows say which process answered.
    const rows = await pgc.query<{ replica: string }>('SELECT DISTINCT replica FROM vigil_predictions WHERE request_id = ANY($1)', [[onA.body.request_id, onB.body.request_id]]);
    expect(rows).toHaveLength(2);
    // The password never reaches a log line.
    for (const server of [a, b]) expect(server.logs.join('\n')).not.toContain(PG_PASSWORD);
  });

  it('a routing change made on one replica is applied by the other within seconds, and survives a restart', async () => {
    const fingerprint = async (server: VigilProcess) => sample(await metrics(server), 'vigil_routing_fingerprint', { model: 'digits' });
    expect(await fingerprint(a)).toBe(await fingerprint(b));
    const changed = await fetch(`${a.url}/v1/models/digits/routing`, { method: 'PATCH', headers: { ...admin, 'content-type': 'application/json' }, body: JSON.stringify({ champion: '2' }) });
    expect((await readResponse(changed)).body).toMatchObject({ champion: '2', champion_pinned: true });
    const seen = await waitFor(async () => {
      const routing = await getJson(`${b.url}/v1/models/digits/routing`);
      return routing.body.champion === '2' ? routing.body : undefined;
    }, 'replica b to adopt the new champion', 15_000, 100);
    expect(seen).toMatchObject({ champion: '2', champion_pinned: true, previous_champion: '1' });
    // b answers with version 2 now (it calls a 0 a "1").
    expect((await predict(b, 0)).body).toMatchObject({ version: '2', label: '1' });
    expect(await fingerprint(a)).toBe(await fingerprint(b));
    expect(sample(await metrics(b), 'vigil_routing_revision', { model: 'digits' })).toBeGreaterThan(0);

    // b restarts: the shared row wins over its configuration (--champion digits=1).
    await b.stop();
    b = await startReplica('b');
    await b.waitUntilReady();
    await waitFor(async () => ((await getJson(`${b.url}/v1/models/digits/routing`)).body.champion === '2' ? true : undefined), 'the restarted replica to adopt the shared routing', 15_000, 100);

    // A rollback on b reaches a.
    const rolledBack = await fetch(`${b.url}/v1/models/digits/routing/rollback`, { method: 'POST', headers: admin });
    expect(rolledBack.status).toBe(200);
    await waitFor(async () => ((await getJson(`${a.url}/v1/models/digits/routing`)).body.champion === '1' ? true : undefined), 'replica a to adopt the rollback', 15_000, 100);
    expect((await predict(a, 0)).body).toMatchObject({ version: '1', label: '0' });
  }, 120_000);

  it('PostgreSQL stopped and restarted under load: no failed prediction, rows after the outage arrive, the dropped count is exact', async () => {
    const drained = async () => sample(await metrics(a), 'vigil_prediction_log_pending_rows') === 0 && sample(await metrics(b), 'vigil_prediction_log_pending_rows') === 0;
    await waitFor(async () => ((await drained()) ? true : undefined), 'the earlier tests\' rows to be written', 30_000, 100);
    await pgc.query('TRUNCATE vigil_predictions');
    const dropped = async (server: VigilProcess) => sample(await metrics(server), 'vigil_prediction_log_dropped_total') ?? 0;
    const droppedBefore = (await dropped(a)) + (await dropped(b));
    const statuses: number[] = [];
    let stop = false;
    // Two clients per replica, one request after the other, for the whole outage.
    const load = [a, a, b, b].map(async (server) => {
      while (!stop) statuses.push((await predict(server, statuses.length % 10)).status);
    });
    await waitFor(async () => (statuses.length >= 40 ? true : undefined), 'some load before the outage', 30_000, 20);
    pgc.stop('fast');
    await waitFor(async () => (sample(await metrics(a), 'vigil_prediction_log_up') === 0 && sample(await metrics(b), 'vigil_prediction_log_up') === 0 ? true : undefined), 'both replicas to see PostgreSQL gone', 30_000, 100);
    const atOutage = statuses.length;
    // Long enough to pass the buffer's bound on each replica.
    await waitFor(async () => (statuses.length >= atOutage + 4 * BUFFER_ROWS ? true : undefined), 'load during the outage', 60_000, 20);
    // Readiness is not the database's business.
    expect((await fetch(`${a.url}/ready`)).status).toBe(200);
    expect((await fetch(`${b.url}/ready`)).status).toBe(200);
    pgc.start();
    await waitFor(async () => (sample(await metrics(a), 'vigil_prediction_log_up') === 1 && sample(await metrics(b), 'vigil_prediction_log_up') === 1 ? true : undefined), 'both replicas to reconnect', 60_000, 100);
    const atReturn = statuses.length;
    await waitFor(async () => (statuses.length >= atReturn + 40 ? true : undefined), 'load after the outage', 30_000, 20);
    stop = true;
    await Promise.all(load);

    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    await waitFor(async () => ((await drained()) ? true : undefined), 'the buffers to drain', 30_000, 100);
    const droppedNow = (await dropped(a)) + (await dropped(b)) - droppedBefore;
    const [{ n }] = (await pgc.query<{ n: string }>('SELECT count(*) AS n FROM vigil_predictions')) as [{ n: string }];
    // The outage outlasted the buffers: rows were dropped, and every answer is either a row or a drop.
    expect(droppedNow).toBeGreaterThan(0);
    expect(Number(n) + droppedNow).toBe(statuses.length);
    // Rows made after the outage are there.
    const last = await predict(a, 7);
    await waitFor(async () => ((await pgc.query('SELECT 1 FROM vigil_predictions WHERE request_id = $1', [last.body.request_id])).length === 1 ? true : undefined), 'a row made after the outage', 10_000, 100);
  }, 240_000);
});
