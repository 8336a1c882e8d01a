import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeUpstream, writeModelFolder, type FakeUpstream } from '../helpers/fake-upstream.js';
import {
  BINARIES,
  DEPLOY,
  alertmanagerConfig,
  freePort,
  prometheusConfig,
  readDeploy,
  requireMonitoringBinaries,
  ruleExpressions,
  run,
  runAsync,
  selectorsOf,
  startAlertmanager,
  startNodeExporter,
  startPrometheus,
  sleep,
  startWebhookReceiver,
  waitFor,
  type PrometheusService,
  type Service,
} from '../helpers/prometheus.js';
import { REPO_ROOT, postJson, startVigil, type VigilProcess } from '../helpers/server.js';
import { callError, healthClient, inferenceClient, status as grpcStatus, unaryCall, type Client } from '../helpers/oip-grpc.js';

/**
 * The monitoring stack as committed, against the live server: Debian's Prometheus,
 * Alertmanager and node_exporter on free loopback ports with deploy/'s own config files
 * (only ports, targets and intervals substituted), the real `vigil serve`, real traffic, and
 * a webhook receiver standing in for the pager.
 */

const haveBinaries = requireMonitoringBinaries('monitoring stack integration test');

const TOKEN = 'hf_monitoringTESTtoken';
const FLAKY_UPSTREAM_MODEL = 'fake/flaky-llm';

/** Dashboard template variables, as Grafana expands "All". */
function expandDashboardExpr(expr: string): string {
  return expr
    .replaceAll('$__rate_interval', '1m')
    .replaceAll('$__interval', '15s')
    .replaceAll('$instance', '.*')
    .replaceAll('$model', '.*')
    .replaceAll('$node', '.*');
}

interface DashboardQuery {
  where: string;
  expr: string;
}

/** Every PromQL expression in the dashboard: panel targets, annotations, variables. */
function dashboardQueries(dashboard: any): DashboardQuery[] {
  const queries: DashboardQuery[] = [];
  for (const panel of dashboard.panels) {
    for (const target of panel.targets ?? []) queries.push({ where: `panel "${panel.title}" ${target.refId}`, expr: target.expr });
  }
  for (const annotation of dashboard.annotations?.list ?? []) {
    if (annotation.expr) queries.push({ where: `annotation "${annotation.name}"`, expr: annotation.expr });
  }
  for (const variable of dashboard.templating.list) {
    // label_values(selector, label) -> the selector must return series carrying that label.
    const match = /^label_values\((.*),\s*([a-zA-Z_]\w*)\)$/.exec(variable.definition);
    if (!match) throw new Error(`variable ${variable.name}: unexpected query ${variable.definition}`);
    queries.push({ where: `variable $${variable.name} (label ${match[2]})`, expr: match[1]! });
  }
  return queries;
}

describe.skipIf(!haveBinaries)('monitoring stack: config checks', () => {
  it('promtool accepts the Prometheus config and rule files', () => {
    const config = run(BINARIES.promtool, ['check', 'config', path.join(DEPLOY, 'prometheus', 'prometheus.yml')]);
    expect(config.output).toContain('SUCCESS');
    expect(config.code, config.output).toBe(0);
    const rules = run(BINARIES.promtool, ['check', 'rules', path.join(DEPLOY, 'prometheus/rules/recording.yml'), path.join(DEPLOY, 'prometheus/rules/alerts.yml')]);
    expect(rules.code, rules.output).toBe(0);
  });

  it('promtool accepts the compose Prometheus config (service names, two replicas)', () => {
    const result = run(BINARIES.promtool, ['check', 'config', path.join(DEPLOY, 'compose', 'prometheus.yml')]);
    expect(result.code, result.output).toBe(0);
  });

  it('the promtool unit tests of every alert pass', async () => {
    const dir = path.join(DEPLOY, 'prometheus', 'tests');
    const files = readdirSync(dir).filter((f) => f.endsWith('.yml')).map((f) => path.join(dir, f));
    expect(files.length).toBeGreaterThan(0);
    // One promtool per file, two at a time (one per core): together they take ~45 s of CPU,
    // most of it evaluating every rule once a simulated minute over hours.
    const pending = [...files];
    const failures: string[] = [];
    const lane = async () => {
      for (let file = pending.shift(); file; file = pending.shift()) {
        const result = await runAsync(BINARIES.promtool, ['test', 'rules', file]);
        if (result.code !== 0 || result.output.includes('FAILED')) failures.push(`${path.basename(file)}:\n${result.output}`);
      }
    };
    await Promise.all([lane(), lane()]);
    expect(failures).toEqual([]);
  }, 300_000);

  it('every alert is tested by promtool firing and not firing, and has summary, description and a runbook section', () => {
    const alerts = ruleExpressions(readDeploy('prometheus', 'rules', 'alerts.yml')).filter((r) => r.kind === 'alert');
    const testsDir = path.join(DEPLOY, 'prometheus', 'tests');
    const testText = readdirSync(testsDir).map((f) => readFileSync(path.join(testsDir, f), 'utf8')).join('\n');
    const runbook = readFileSync(path.join(REPO_ROOT, 'docs', 'runbook.md'), 'utf8');
    const anchors = new Set([...runbook.matchAll(/^#{2,3} (.+)$/gm)].map((m) => m[1]!.trim().toLowerCase().replace(/[^a-z0-9 -]/g, '').replace(/ /g, '-')));
    for (const alert of alerts) {
      expect(alert.annotations?.summary, alert.name).toBeTruthy();
      expect(alert.annotations?.description, alert.name).toBeTruthy();
      const url = alert.annotations?.runbook_url ?? '';
      expect(url, alert.name).toBe(`docs/runbook.md#${alert.name.toLowerCase()}`);
      expect(anchors.has(alert.name.toLowerCase()), `docs/runbook.md has no "## ${alert.name}" section`).toBe(true);
      // Firing: an expected alert with this name; not firing: an empty expectation for it.
      expect(testText, `${alert.name} never expected to fire`).toMatch(new RegExp(`alertname: ${alert.name}\\n\\s+exp_alerts:\\n\\s+- exp_labels`));
      expect(testText, `${alert.name} never expected to stay quiet`).toMatch(new RegExp(`alertname: ${alert.name}\\n\\s+exp_alerts: \\[\\]`));
    }
  });

  it('amtool accepts the Alertmanager config', () => {
    const result = run(BINARIES.amtool, ['check-config', path.join(DEPLOY, 'alertmanager', 'alertmanager.yml')]);
    expect(result.code, result.output).toBe(0);
  });
});

describe.skipIf(!haveBinaries)('monitoring stack against the live server', () => {
  let nodeExporter: Service;
  let alertmanager: Service;
  let prometheus: PrometheusService;
  let webhook: Awaited<ReturnType<typeof startWebhookReceiver>>;
  let fake: FakeUpstream;
  let vigil: VigilProcess;
  /** A second, smaller replica: the `vigil` job scrapes several instances. */
  let replica: VigilProcess;
  let root: string;
  /** The first replica's gRPC listener (the second keeps gRPC off). */
  let grpcPort: number;
  let grpcClient: Client;
  let grpcHealth: Client;

  const query = async (expr: string) => {
    const result = await prometheus.query(expr);
    if (result.status !== 'success') throw new Error(`${expr}: ${result.error}`);
    return result.data!.result;
  };

  beforeAll(async () => {
    root = mkdtempSync(path.join(tmpdir(), 'vigil-monitoring-'));
    // A copy of the sentiment model whose queue holds one input: concurrent requests get 503s
    // from real admission control, the server-side errors the SLO alerts are about. The queued
    // input waits 200 ms for company, so of a crowd arriving within that time all but one are
    // refused however fast the machine is (with batches of one and no wait, a fast engine
    // emptied the queue between arrivals and the count of refusals depended on speed).
    const tiny = path.join(root, 'sentiment-tiny-queue');
    cpSync(path.join(REPO_ROOT, 'models', 'sentiment', '1'), tiny, { recursive: true });
    const spec = JSON.parse(readFileSync(path.join(tiny, 'vigil.model.json'), 'utf8'));
    writeFileSync(
      path.join(tiny, 'vigil.model.json'),
      JSON.stringify({ ...spec, name: 'sentiment-tiny-queue', batching: { maxQueue: 1, maxBatchSize: 64, maxDelayMs: 200 } }, null, 2),
    );

    // Remote models against a fake OpenAI-compatible upstream on loopback: one healthy, one
    // failing that falls back to it (errors by reason, retries, an open circuit, fallbacks).
    fake = await startFakeUpstream({ token: TOKEN });
    const base = JSON.parse(readFileSync(path.join(REPO_ROOT, 'models/positive-thought/1/vigil.model.json'), 'utf8'));
    const fast = { timeoutMs: 2000, retry: { maxRetries: 1, baseDelayMs: 5, maxDelayMs: 20, maxRetryAfterMs: 100 } };
    const thought = await writeModelFolder(root, { ...base, remote: { ...base.remote, baseUrl: fake.chatBaseUrl, ...fast } });
    const flaky = await writeModelFolder(root, {
      ...base,
      name: 'thought-flaky',
      fallback: 'positive-thought',
      remote: { ...base.remote, baseUrl: fake.chatBaseUrl, model: FLAKY_UPSTREAM_MODEL, ...fast, circuitBreaker: { failureThreshold: 2, cooldownMs: 600_000 } },
    });

    webhook = await startWebhookReceiver();
    grpcPort = await freePort();
    nodeExporter = await startNodeExporter();
    alertmanager = await startAlertmanager(
      alertmanagerConfig(readDeploy('alertmanager', 'alertmanager.yml'), { webhookBase: webhook.url, groupWait: '1s', groupInterval: '2s' }),
    );
    vigil = await startVigil(
      [
        '--no-embedded',
        '--model', path.join(REPO_ROOT, 'models', 'sentiment'),
        '--model', path.join(REPO_ROOT, 'models', 'air-quality'),
        '--model', tiny,
        '--model', thought,
        '--model', flaky,
        '--grpc-port', String(grpcPort),
      ],
      { HF_TOKEN: TOKEN, HF_TOKEN_FILE: '' },
    );
    await vigil.waitUntilReady();
    grpcClient = inferenceClient(grpcPort);
    grpcHealth = healthClient(grpcPort);
    replica = await startVigil(['--no-embedded', '--model', path.join(REPO_ROOT, 'models', 'sentiment')]);
    await replica.waitUntilReady();

    const promPort = await freePort();
    const host = (url: string) => new URL(url).host;
    prometheus = await startPrometheus(
      prometheusConfig(readDeploy('prometheus', 'prometheus.yml'), {
        targets: {
          vigil: [host(vigil.url), host(replica.url)],
          node: [host(nodeExporter.url)],
          alertmanager: [host(alertmanager.url)],
          prometheus: [`127.0.0.1:${promPort}`],
        },
        alertmanagers: [host(alertmanager.url)],
        scrapeInterval: '1s',
        evaluationInterval: '1s',
      }),
      promPort,
    );
  });

  afterAll(async () => {
    grpcClient?.close();
    grpcHealth?.close();
    await prometheus?.stop();
    await vigil?.stop();
    await replica?.stop();
    await alertmanager?.stop();
    await nodeExporter?.stop();
    await webhook?.close();
    await fake?.close();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('scrapes every target: two Vigil instances, node_exporter, Alertmanager and Prometheus itself', async () => {
    const jobs = await waitFor(
      async () => {
        const response = (await (await fetch(`${prometheus.url}/api/v1/targets`)).json()) as any;
        const active: Array<{ labels: { job: string }; health: string; lastError: string }> = response.data.activeTargets;
        return active.length === 5 && active.every((t) => t.health === 'up') ? active : undefined;
      },
      'all five targets up',
    );
    expect(jobs.map((t) => t.labels.job).sort()).toEqual(['alertmanager', 'node', 'prometheus', 'vigil', 'vigil']);
    expect(await query('up == 0')).toEqual([]);
  });

  it('sees real traffic, remote calls and an induced error burst, and pages through Alertmanager', async () => {
    // Healthy traffic on two routes, and on the replica.
    for (let i = 0; i < 30; i++) {
      expect((await postJson(`${replica.url}/predict`, { text: 'steady' })).status).toBe(200);
      const r = await postJson(`${vigil.url}/predict`, { text: i % 2 ? 'a warm, funny and moving film' : 'tedious, flat and far too long' });
      expect(r.status).toBe(200);
      await postJson(`${vigil.url}/v1/models/sentiment-tiny-queue/predict`, { text: 'fine' });
    }

    // gRPC: answered ModelInfer calls, probes, a caller's mistake (INVALID_ARGUMENT, not a
    // server error), and real refusals (UNAVAILABLE) from the model whose queue holds one input,
    // kept to about 1% of the calls: the gRPC series exist with every code the rules read, and
    // the gRPC SLO pages nothing (asserted below with the webhook).
    const inferText = (model: string, text: string) =>
      unaryCall(grpcClient, 'ModelInfer', { model_name: model, inputs: [{ name: 'text', datatype: 'BYTES', shape: [1], contents: { bytes_contents: [Buffer.from(text)] } }] });
    for (let i = 0; i < 20; i++) expect((await inferText('sentiment', i % 2 ? 'a warm and moving film' : 'flat and far too long')).response.model_name).toBe('sentiment');
    await unaryCall(grpcClient, 'ServerReady', {});
    await unaryCall(grpcHealth, 'Check', { service: '' });
    const mistake = await callError(unaryCall(grpcClient, 'ModelInfer', { model_name: 'sentiment', inputs: [{ name: 'no-such-input', datatype: 'BYTES', shape: [1], contents: { bytes_contents: [Buffer.from('x')] } }] }));
    expect(mistake.code).toBe(grpcStatus.INVALID_ARGUMENT);
    let grpcRefused = 0;
    const grpcCrowd = async () => {
      // Two calls at once: one waits in the queue, the other is refused (unless a stalled
      // machine sends them 200 ms apart; then again).
      const before = grpcRefused;
      for (let round = 0; round < 10 && grpcRefused === before; round++) {
        const outcomes = await Promise.allSettled(Array.from({ length: 2 }, () => inferText('sentiment-tiny-queue', 'a crowd over gRPC')));
        for (const o of outcomes) {
          if (o.status === 'rejected') {
            expect((o.reason as { code: number }).code, String(o.reason)).toBe(grpcStatus.UNAVAILABLE);
            grpcRefused++;
          }
        }
      }
      expect(grpcRefused).toBe(before + 1);
    };
    // Twice: the UNAVAILABLE series exists from start-up (at 0), so rate() sees even the first.
    await grpcCrowd();
    await grpcCrowd();
    for (let i = 0; i < 100 * grpcRefused; i++) await inferText('sentiment', 'steady over gRPC');

    // Model quality: enough inputs for the drift window (100) and enough delayed labels for the
    // online quality windows (20), for a classifier and a regression model.
    const words = ['moving', 'dull', 'brilliant', 'clumsy', 'tender', 'bland', 'sharp', 'tired', 'warm', 'hollow'];
    const texts = Array.from({ length: 60 }, (_, i) => `a ${words[i % 10]} and ${words[(i * 7) % 10]} story, ${'quite '.repeat(i % 5)}${words[(i * 3) % 10]}`);
    const labelled: Array<{ request_id: string; index: number; label: string }> = [];
    for (let round = 0; round < 2; round++) {
      const r = await postJson(`${vigil.url}/v1/models/sentiment/predict`, { texts });
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      r.body.predictions.forEach((p: any, index: number) => {
        // A labeller who disagrees with the model now and then.
        if (index < 20) labelled.push({ request_id: r.body.request_id, index, label: index % 4 === 0 ? (p.label === 'POSITIVE' ? 'NEGATIVE' : 'POSITIVE') : p.label });
      });
    }
    expect((await postJson(`${vigil.url}/v1/feedback`, { feedback: labelled })).status).toBe(200);
    const aq = JSON.parse(readFileSync(path.join(REPO_ROOT, 'models/air-quality/1/vigil.model.json'), 'utf8'));
    const rows = Array.from({ length: 30 }, (_, i) =>
      Object.fromEntries(
        aq.preprocessing.features.map((f: any, j: number) => {
          if (f.name === 'hour') return [f.name, i % 24];
          if (f.name === 'dayOfWeek') return [f.name, i % 7];
          return [f.name, f.mean + f.std * Math.sin(i + j)];
        }),
      ),
    );
    const regression = await postJson(`${vigil.url}/v1/models/air-quality/predict`, { rows });
    expect(regression.status, JSON.stringify(regression.body)).toBe(200);
    const values = regression.body.predictions.map((p: any, index: number) => ({ request_id: regression.body.request_id, index, value: p.value * (1 + 0.1 * Math.cos(index)) }));
    expect((await postJson(`${vigil.url}/v1/feedback`, { feedback: values })).status).toBe(200);
    // One label for a prediction that never happened: refused, and counted as such.
    expect((await postJson(`${vigil.url}/v1/feedback`, { request_id: 'no-such-prediction', label: 'POSITIVE' })).status).toBe(404);

    // Remote: plain and streamed generations (time to first token, tokens), then an upstream
    // that fails: retries, errors by reason, the circuit opens, the fallback answers.
    for (let i = 0; i < 3; i++) expect((await postJson(`${vigil.url}/v1/models/positive-thought/predict`, { prompt: 'I passed my exam!' })).status).toBe(200);
    const streamed = await fetch(`${vigil.url}/v1/models/positive-thought/predict`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: 'Long day.', stream: true }),
    });
    expect(streamed.status).toBe(200);
    await streamed.text();
    fake.inject({ kind: 'status', status: 500 }, { model: FLAKY_UPSTREAM_MODEL, times: Infinity });
    for (let i = 0; i < 4; i++) {
      const r = await postJson(`${vigil.url}/v1/models/thought-flaky/predict`, { prompt: 'Meh.' });
      expect(r.status, JSON.stringify(r.body)).toBe(200); // answered by the fallback
      expect(r.body.model).toBe('positive-thought');
    }

    // The error burst: rounds of concurrent requests into a queue of one, each round 39 of 40
    // refused.
    const crowd = async () => {
      const results = await Promise.all(
        Array.from({ length: 40 }, () => postJson(`${vigil.url}/v1/models/sentiment-tiny-queue/predict`, { text: 'a crowd arrives at once' })),
      );
      for (const r of results) expect([200, 503]).toContain(r.status);
      return results.filter((r) => r.status === 503).length;
    };
    let shed = 0;
    for (let round = 0; round < 10; round++) shed += await crowd();
    expect(shed).toBeGreaterThan(10 * 30); // a few may arrive after the 200 ms and queue

    // Prometheus sees the 503s: every condition of the fast-burn page pair holds. The long
    // window also needs 0.1 requests/s, i.e. 360 counted in the hour, and a series counts only
    // what came after its first scrape; so the crowds go on until Prometheus has counted twice
    // that. (A CI run stopped them once the 5m ratio alone was high and got no page: the hour
    // had about 0.1 requests/s, and an alert on that edge flaps, firing or not by the
    // extrapolation of one evaluation; the dashboard's ALERTS annotation then found nothing.)
    const burn = { ratio5m: NaN, ratio1h: NaN, requests1h: NaN };
    const sampleOf = async (expr: string) => Number((await query(expr))[0]?.value?.[1]);
    const burning = async () => {
      burn.ratio5m = await sampleOf('job:slo_errors_per_request:ratio_rate5m{job="vigil"}');
      burn.ratio1h = await sampleOf('job:slo_errors_per_request:ratio_rate1h{job="vigil"}');
      burn.requests1h = await sampleOf('job:slo_requests:rate1h{job="vigil"}');
      return burn.ratio5m > 14.4 * 0.005 && burn.ratio1h > 14.4 * 0.005 && burn.requests1h > 0.2;
    };
    await waitFor(
      async () => {
        if (await burning()) return true;
        await crowd();
        return undefined;
      },
      'the fast-burn conditions with room (5m and 1h error ratios over 14.4x the budget, 0.2 requests/s in the hour)',
      100_000,
    ).catch((error) => {
      throw new Error(`${(error as Error).message}; last seen ${JSON.stringify(burn)}`);
    });
    expect(burn.ratio5m).toBeLessThan(1);

    // ...the real fast-burn alert fires, and Alertmanager's real routing pages the webhook.
    const page = await waitFor(
      async () =>
        webhook.received.find((n) => n.body?.status === 'firing' && n.body.alerts?.some((a: any) => a.labels.alertname === 'VigilErrorBudgetBurnFast')),
      'VigilErrorBudgetBurnFast at the webhook',
      100_000,
    ).catch(async (error) => {
      await burning();
      const alerts = await fetch(`${prometheus.url}/api/v1/alerts`).then((r) => r.text());
      throw new Error(`${(error as Error).message}; burn ${JSON.stringify(burn)}; Prometheus alerts ${alerts.slice(0, 2000)}`);
    });
    expect(page.path).toBe('/alerts/page');
    expect(page.body.receiver).toBe('page');
    const alert = page.body.alerts.find((a: any) => a.labels.alertname === 'VigilErrorBudgetBurnFast');
    expect(alert.labels).toMatchObject({ severity: 'page', job: 'vigil', slo: 'vigil-availability' });
    expect(alert.annotations.runbook_url).toBe('docs/runbook.md#vigilerrorbudgetburnfast');
    expect(alert.annotations.summary).toMatch(/of requests fail/);
    // Nothing paged that should not have: every page is an SLO burn.
    const paged = webhook.received.filter((n) => n.path === '/alerts/page').flatMap((n) => n.body.alerts.map((a: any) => a.labels.alertname));
    expect(new Set(paged)).toEqual(new Set(['VigilErrorBudgetBurnFast']));
    // Two waits of up to 100 s each on a loaded machine (alone the test takes ~30 s).
  }, 300_000);

  it('records the gRPC listener by method and code: refusals are server errors, the caller\'s mistake is not', async () => {
    // The refusals burn the gRPC budget (a little); the probes and health checks are no API calls.
    const ratio = await waitFor(async () => {
      const [sample] = await query('job:grpc_slo_errors_per_call:ratio_rate1h');
      const value = Number(sample?.value?.[1]);
      return value > 0 ? value : undefined;
    }, 'the refusals in the gRPC SLO error ratio');
    expect(ratio).toBeLessThan(0.05);
    const codes = new Set((await query('job_method_code:grpc_server_handled:rate5m{grpc_method="ModelInfer"} > 0')).map((s) => s.metric.grpc_code));
    // The refusals are seen from the first (their series existed); the one INVALID_ARGUMENT
    // created its series, which rate() cannot see.
    expect([...codes].sort()).toEqual(['OK', 'UNAVAILABLE']);
    // OK and the server errors the SLO reads exist from start-up, at 0 until they happen.
    const series = new Set((await query('grpc_server_handled_total{grpc_method="ModelInfer"}')).map((s) => s.metric.grpc_code));
    expect([...series].sort()).toEqual(['DATA_LOSS', 'DEADLINE_EXCEEDED', 'INTERNAL', 'INVALID_ARGUMENT', 'OK', 'UNAVAILABLE', 'UNIMPLEMENTED', 'UNKNOWN']);
    const handled = await query('sum by (grpc_code) (grpc_server_handled_total{grpc_method="ModelInfer"})');
    const count = (code: string) => Number(handled.find((s) => s.metric.grpc_code === code)?.value?.[1] ?? 0);
    expect(count('UNAVAILABLE')).toBeGreaterThan(0);
    expect(count('OK')).toBeGreaterThanOrEqual(100 * count('UNAVAILABLE'));
    expect((await query('grpc_server_handled_total{grpc_method="ServerReady", grpc_code="OK"}')).length).toBe(1);
    expect((await query('job_method:grpc_server_handling_seconds:p95_5m{grpc_method="ModelInfer"}')).length).toBe(1);
  });

  it('every expression of the rule files evaluates and every metric they read exists', async () => {
    const problems: string[] = [];
    for (const file of ['recording.yml', 'alerts.yml']) {
      for (const rule of ruleExpressions(readDeploy('prometheus', 'rules', file))) {
        const result = await prometheus.query(rule.expr);
        if (result.status !== 'success') {
          problems.push(`${file} ${rule.name}: ${result.error}`);
          continue;
        }
        if (rule.kind === 'record' && result.data!.result.length === 0) problems.push(`${file} ${rule.name}: no series`);
        // An alert that is not firing rightly returns nothing; the metrics it reads must exist.
        for (const selector of selectorsOf(rule.expr)) {
          if ((await query(selector)).length === 0) problems.push(`${file} ${rule.name}: ${selector} has no series`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it('every query of the Grafana dashboard evaluates and returns series', async () => {
    const dashboard = JSON.parse(readDeploy('grafana', 'dashboards', 'vigil.json'));
    const queries = dashboardQueries(dashboard);
    expect(queries.length).toBeGreaterThan(40);
    // Recording rules and rates need a few evaluations over the traffic above; wait until the
    // slowest of them (the 3-day SLO ratio) has been recorded.
    await waitFor(async () => ((await query('job:slo_errors_per_request:ratio_rate3d')).length > 0 ? true : undefined), 'SLO recording rules');
    const evaluate = async () => {
      const problems: string[] = [];
      for (const { where, expr } of queries) {
        const result = await prometheus.query(expandDashboardExpr(expr));
        if (result.status !== 'success') problems.push(`${where}: ${result.error} in ${expr}`);
        else if (result.data!.result.length === 0) problems.push(`${where}: no series for ${expr}`);
      }
      return problems;
    };
    // Rules are recorded on their own schedule, one group after another: on a slow machine a
    // query over a recorded series can come before its first evaluation. Asked again for up to
    // a minute; a query that never answers still fails, with its text.
    let problems = await evaluate();
    for (const deadline = Date.now() + 60_000; problems.length > 0 && Date.now() < deadline; problems = await evaluate()) await sleep(2000);
    expect(problems).toEqual([]);
  });

  it('the dashboard lists both instances and their models; job-level rules aggregate across them', async () => {
    const instances = (await query('up{job="vigil"}')).map((s) => s.metric.instance);
    expect(instances.sort()).toEqual([new URL(vigil.url).host, new URL(replica.url).host].sort());
    // One SLO series for the job, whatever the number of replicas.
    expect((await query('job:slo_errors_per_request:ratio_rate5m')).map((s) => s.metric)).toEqual([{ __name__: 'job:slo_errors_per_request:ratio_rate5m', job: 'vigil' }]);
    const perInstance = await query('sum by (instance) (rate(vigil_predictions_total{model="sentiment"}[1m]))');
    expect(perInstance).toHaveLength(2);
    const models = new Set((await query('vigil_model_info')).map((s) => s.metric.model));
    expect(models).toEqual(new Set(['sentiment', 'air-quality', 'sentiment-tiny-queue', 'positive-thought', 'thought-flaky']));
  });
});
