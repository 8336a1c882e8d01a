/**
 * No false pages: Debian's Prometheus, with the repository's prometheus.yml and rules, scrapes a
 * healthy default server (the embedded models, positive-thought without HF_TOKEN) under clean
 * traffic, and no page condition holds: every `severity: page` alert's expression is empty and
 * ALERTS has no page, not even pending. The old VigilModelNotReady expression is evaluated beside
 * it on the same data and does fire, so the quiet is the rules' doing, not missing data. The
 * metrics the docs promise from start-up exist at 0 (the remote API's), and regression predictions
 * are counted in vigil_predictions_total. The gRPC listener is on, as by default, with clean calls
 * and a caller's mistakes (INVALID_ARGUMENT, NOT_FOUND), which are no server errors: the gRPC SLO
 * page stays quiet too, on series that exist.
 */
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  freePort,
  prometheusConfig,
  readDeploy,
  requireMonitoringBinaries,
  sleep,
  startNodeExporter,
  startPrometheus,
  waitFor,
  type PrometheusService,
  type Service,
} from '../helpers/prometheus.js';
import { postJson, startVigil, type VigilProcess } from '../helpers/server.js';
import { callError, healthClient, inferenceClient, status as grpcStatus, unaryCall, type Client } from '../helpers/oip-grpc.js';

const available = requireMonitoringBinaries('a real Prometheus scraping a healthy default server');

type Rule = { alert?: string; expr: string; labels?: Record<string, string> };
const pageAlerts = (parse(readDeploy('prometheus', 'rules', 'alerts.yml')) as { groups: { rules: Rule[] }[] }).groups
  .flatMap((g) => g.rules)
  .filter((r) => r.alert && r.labels?.severity === 'page');

const READING = { 'PT08.S1(CO)': 1112, 'PT08.S2(NMHC)': 970, 'PT08.S3(NOx)': 843, 'PT08.S4(NO2)': 1456, 'PT08.S5(O3)': 1023, T: 18.3, RH: 49.2, AH: 1.08, hour: 8, dayOfWeek: 1 };

describe.skipIf(!available)('a healthy default server under Prometheus', () => {
  let vigil: VigilProcess;
  let nodeExporter: Service;
  let prometheus: PrometheusService;
  let grpcClient: Client;
  let grpcHealth: Client;

  beforeAll(async () => {
    // The default server: every embedded model, no token (startVigil clears HF_TOKEN), and the
    // gRPC listener (on a free port rather than the default 8081, which others may hold).
    const grpcPort = await freePort();
    vigil = await startVigil(['--grpc-port', String(grpcPort)]);
    await vigil.waitUntilReady();
    grpcClient = inferenceClient(grpcPort);
    grpcHealth = healthClient(grpcPort);
    const inferText = (model: string, text: string) =>
      unaryCall(grpcClient, 'ModelInfer', { model_name: model, inputs: [{ name: 'text', datatype: 'BYTES', shape: [1], contents: { bytes_contents: [Buffer.from(text)] } }] });
    nodeExporter = await startNodeExporter();
    const promPort = await freePort();
    const host = (url: string) => new URL(url).host;
    prometheus = await startPrometheus(
      prometheusConfig(readDeploy('prometheus', 'prometheus.yml'), {
        targets: { vigil: [host(vigil.url)], node: [host(nodeExporter.url)], alertmanager: [`127.0.0.1:${await freePort()}`], prometheus: [`127.0.0.1:${promPort}`] },
        alertmanagers: [`127.0.0.1:${await freePort()}`],
        scrapeInterval: '1s',
        evaluationInterval: '1s',
      }),
      promPort,
    );
    // Prometheus has scraped Vigil once before the traffic starts: every counter the traffic
    // moves then rises between scrapes, so its rates are not 0 (a series whose whole traffic
    // came before its first scrape has a rate of 0, and the gRPC error ratio 0/0 = NaN).
    await waitFor(
      async () => {
        const r = await prometheus.query('up{job="vigil"}');
        return r.data?.result[0]?.value?.[1] === '1' ? true : undefined;
      },
      'a first scrape of Vigil',
      60_000,
    );
    // Clean traffic on every local model, spread over several scrapes.
    for (let round = 0; round < 6; round++) {
      const answers = await Promise.all([
        postJson(`${vigil.url}/predict`, { text: 'I am so happy today!' }),
        postJson(`${vigil.url}/v1/models/spam/predict`, { text: 'Meeting moved to 3pm, see you there' }),
        postJson(`${vigil.url}/v1/models/digits/predict`, { pixels: new Array(784).fill(0) }),
        postJson(`${vigil.url}/v1/models/air-quality/predict`, { features: READING }),
      ]);
      for (const a of answers) expect(a.status, JSON.stringify(a.body)).toBe(200);
      // Over gRPC: answered calls, probes, and a caller's mistakes.
      for (let i = 0; i < 5; i++) expect((await inferText('sentiment', 'I am so happy today!')).response.model_name).toBe('sentiment');
      expect((await unaryCall(grpcClient, 'ServerReady', {})).response.ready).toBe(true);
      expect((await unaryCall(grpcHealth, 'Check', { service: '' })).response.status).toBe('SERVING');
      expect((await callError(inferText('no-such-model', 'hello'))).code).toBe(grpcStatus.NOT_FOUND);
      expect((await callError(inferText('digits', 'not pixels'))).code).toBe(grpcStatus.INVALID_ARGUMENT);
      await sleep(1000);
    }
    // Enough scrapes and rule evaluations after the traffic.
    await waitFor(
      async () => {
        const r = await prometheus.query('count_over_time(up{job="vigil"}[1m])');
        return Number(r.data?.result[0]?.value?.[1] ?? 0) >= 10 ? true : undefined;
      },
      'ten scrapes of Vigil',
      90_000,
    );
    await sleep(3000);
  }, 240_000);

  afterAll(async () => {
    grpcClient?.close();
    grpcHealth?.close();
    await prometheus?.stop();
    await nodeExporter?.stop();
    await vigil?.stop();
  });

  it('has the page alerts to check', () => {
    expect(pageAlerts.map((r) => r.alert)).toEqual(expect.arrayContaining(['VigilInstanceDown', 'VigilAbsent', 'VigilModelNotReady', 'VigilErrorBudgetBurnFast', 'VigilGrpcErrorBudgetBurnFast']));
  });

  it('recorded the gRPC calls, the caller\'s mistakes among them, at a server-error ratio of 0', async () => {
    const handled = await prometheus.query('sum by (grpc_method, grpc_code) (grpc_server_handled_total{grpc_method="ModelInfer"})');
    const codes = Object.fromEntries(handled.data!.result.map((r) => [r.metric.grpc_code, Number(r.value![1])]));
    expect(codes.OK).toBeGreaterThanOrEqual(30);
    expect(codes.NOT_FOUND).toBeGreaterThanOrEqual(6);
    expect(codes.INVALID_ARGUMENT).toBeGreaterThanOrEqual(6);
    // The ratio is recorded on the rules' own schedule: its first evaluations may predate the
    // traffic's second scrape (0/0). It must settle at 0, never above.
    const ratio = await waitFor(
      async () => {
        const r = await prometheus.query('job:grpc_slo_errors_per_call:ratio_rate5m');
        const values = r.data!.result.map((x) => x.value![1]);
        return values.length > 0 && values.every((v) => v !== 'NaN') ? values : undefined;
      },
      'the gRPC error ratio recorded from the traffic',
      30_000,
    );
    expect(ratio).toEqual(['0']);
  });

  it('holds no page condition: every page expression is empty', async () => {
    for (const rule of pageAlerts) {
      const result = await prometheus.query(rule.expr);
      expect(result.status, `${rule.alert}: ${result.error}`).toBe('success');
      expect(result.data!.result, rule.alert).toEqual([]);
    }
  });

  it('has no page in ALERTS, firing or pending', async () => {
    const result = await prometheus.query('ALERTS{severity="page"}');
    expect(result.data!.result).toEqual([]);
  });

  it('would have paged with the old VigilModelNotReady (every vigil_model_ready 0): positive-thought without a token', async () => {
    const old = await prometheus.query('max by (job, instance, model, version) (vigil_model_ready) == 0');
    expect(old.data!.result.map((r) => r.metric.model)).toEqual(['positive-thought']);
    const required = await prometheus.query('vigil_model_required{model="positive-thought"}');
    expect(required.data!.result.map((r) => r.value![1])).toEqual(['0']);
    const local = await prometheus.query('min(vigil_model_required{model=~"sentiment|spam|digits|air-quality"})');
    expect(local.data!.result[0]!.value![1]).toBe('1');
  });

  it('exports the remote API metrics from start-up at 0, with no remote model configured', async () => {
    for (const [expr, value] of [
      ['requests_api_total', '0'],
      ['sum(errors_api_total)', '0'],
      ['api_generation_latency_seconds_count', '0'],
    ] as const) {
      const result = await prometheus.query(expr);
      expect(result.data!.result.map((r) => r.value![1]), expr).toEqual([value]);
    }
  });

  it('exports per-model series at 0 before they happen (shed requests, truncated inputs, each label)', async () => {
    const shed = await prometheus.query('vigil_requests_shed_total{model="sentiment", version="1"}');
    expect(shed.data!.result.map((r) => [r.metric.reason, r.value![1]]).sort()).toEqual([['deadline', '0'], ['queue_full', '0']]);
    const labels = await prometheus.query('vigil_predictions_total{model="digits", version="1"}');
    expect(labels.data!.result.map((r) => r.metric.label).sort()).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    const truncated = await prometheus.query('vigil_truncated_inputs_total{model="spam"}');
    expect(truncated.data!.result.length).toBeGreaterThan(0);
  });

  it('counts regression predictions in vigil_predictions_total, so predictions/s by model includes air-quality', async () => {
    const result = await prometheus.query('sum by (model) (vigil_predictions_total)');
    const byModel = Object.fromEntries(result.data!.result.map((r) => [r.metric.model, Number(r.value![1])]));
    expect(byModel['air-quality']).toBeGreaterThanOrEqual(6);
    expect(byModel.sentiment).toBeGreaterThanOrEqual(6);
    const label = await prometheus.query('vigil_predictions_total{model="air-quality"}');
    expect(label.data!.result.map((r) => r.metric.label)).toEqual(['value']);
  });
});
