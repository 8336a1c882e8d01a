import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { REPO_ROOT } from './server.js';

/**
 * Debian's Prometheus, Alertmanager and node_exporter, started by tests on free loopback
 * ports with the repository's own config files (only ports, targets and intervals changed)
 * and stopped afterwards. CI installs them (.ci/run); elsewhere the tests skip with a notice.
 */

export const BINARIES = {
  prometheus: '/usr/bin/prometheus',
  promtool: '/usr/bin/promtool',
  alertmanager: '/usr/bin/prometheus-alertmanager',
  amtool: '/usr/bin/amtool',
  nodeExporter: '/usr/bin/prometheus-node-exporter',
} as const;

export const DEPLOY = path.join(REPO_ROOT, 'deploy');

/** True when every binary is installed; otherwise prints which are missing and why tests skip. */
export function requireMonitoringBinaries(what: string): boolean {
  const missing = Object.values(BINARIES).filter((b) => !existsSync(b));
  if (missing.length > 0) {
    console.warn(`[skipped] ${what}: ${missing.join(', ')} not installed (apt-get install prometheus prometheus-alertmanager prometheus-node-exporter; .ci/run does)`);
  }
  return missing.length === 0;
}

/** A port nothing listens on right now (the OS picks it). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export function run(command: string, args: string[], cwd = REPO_ROOT): { code: number | null; output: string } {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8' });
  return { code: result.status, output: `${result.stdout ?? ''}${result.stderr ?? ''}` };
}

/** `run` without blocking the event loop, so that several can run side by side. */
export function runAsync(command: string, args: string[], cwd = REPO_ROOT): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls until `check` returns a value (not undefined) or the time is up. */
export async function waitFor<T>(check: () => Promise<T | undefined>, what: string, timeoutMs = 30_000, everyMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    await sleep(everyMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (last error: ${String(lastError)})` : ''}`);
}

export interface Service {
  name: string;
  url: string;
  process: ChildProcess;
  logs: string[];
  stop(): Promise<void>;
}

/** Spawns a service and resolves once `readyPath` answers 200. */
export async function startService(name: string, command: string, args: string[], url: string, readyPath: string, cwd?: string): Promise<Service> {
  const child = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  const logs: string[] = [];
  const collect = (chunk: Buffer) => logs.push(...chunk.toString('utf8').split('\n').filter((l) => l.trim()));
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  try {
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}`);
        const response = await fetch(`${url}${readyPath}`).catch(() => undefined);
        return response?.ok ? true : undefined;
      },
      `${name} at ${url}${readyPath}`,
      30_000,
    );
  } catch (error) {
    await stop();
    throw new Error(`${(error as Error).message}\n${name} logs:\n${logs.slice(-40).join('\n')}`);
  }
  return { name, url, process: child, logs, stop };
}

export async function startNodeExporter(): Promise<Service> {
  const port = await freePort();
  return startService('node_exporter', BINARIES.nodeExporter, [`--web.listen-address=127.0.0.1:${port}`], `http://127.0.0.1:${port}`, '/metrics');
}

export interface AlertmanagerSubstitutions {
  /** Replaces every webhook receiver's host and port, keeping its path. */
  webhookBase: string;
  groupWait: string;
  groupInterval: string;
}

/** The repository's alertmanager.yml with only webhook targets and grouping intervals changed. */
export function alertmanagerConfig(text: string, s: AlertmanagerSubstitutions): string {
  const config = parse(text) as any;
  config.route.group_wait = s.groupWait;
  config.route.group_interval = s.groupInterval;
  for (const receiver of config.receivers ?? []) {
    for (const webhook of receiver.webhook_configs ?? []) {
      const original = new URL(webhook.url);
      webhook.url = new URL(original.pathname, s.webhookBase).toString();
    }
  }
  return stringify(config);
}

export async function startAlertmanager(configText: string): Promise<Service & { dir: string }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'vigil-alertmanager-'));
  writeFileSync(path.join(dir, 'alertmanager.yml'), configText);
  const port = await freePort();
  const service = await startService(
    'alertmanager',
    BINARIES.alertmanager,
    [
      `--config.file=${path.join(dir, 'alertmanager.yml')}`,
      `--storage.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      // No gossip: a single test instance must not look for peers on the network.
      '--cluster.listen-address=',
    ],
    `http://127.0.0.1:${port}`,
    '/-/ready',
  );
  return {
    ...service,
    dir,
    stop: async () => {
      await service.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface PrometheusSubstitutions {
  /** Targets per job name (`vigil`, `node`, `alertmanager`, `prometheus`). */
  targets: Record<string, string[]>;
  alertmanagers: string[];
  scrapeInterval: string;
  evaluationInterval: string;
}

/**
 * The repository's prometheus.yml with only targets and intervals changed; everything else
 * (jobs, metrics paths, rule files, relabelling) is the file as committed.
 */
export function prometheusConfig(text: string, s: PrometheusSubstitutions): string {
  const config = parse(text) as any;
  config.global.scrape_interval = s.scrapeInterval;
  config.global.scrape_timeout = s.scrapeInterval;
  config.global.evaluation_interval = s.evaluationInterval;
  for (const job of config.scrape_configs) {
    const targets = s.targets[job.job_name];
    if (!targets) throw new Error(`no targets given for scrape job ${job.job_name}`);
    if (job.scrape_interval) job.scrape_interval = s.scrapeInterval;
    if (job.scrape_timeout) job.scrape_timeout = s.scrapeInterval;
    job.static_configs = [{ targets }];
  }
  config.alerting.alertmanagers = [{ static_configs: [{ targets: s.alertmanagers }] }];
  return stringify(config);
}

export interface PrometheusService extends Service {
  dir: string;
  query(expr: string): Promise<PromResult>;
}

export interface PromResult {
  status: 'success' | 'error';
  error?: string;
  data?: { resultType: string; result: Array<{ metric: Record<string, string>; value?: [number, string] }> };
}

/**
 * Starts Prometheus on a copy of deploy/prometheus (so relative rule_files resolve to the
 * committed rules), with the given config text as prometheus.yml and extra rule files.
 */
export async function startPrometheus(configText: string, port: number, extraRuleFiles: Record<string, string> = {}): Promise<PrometheusService> {
  const dir = mkdtempSync(path.join(tmpdir(), 'vigil-prometheus-'));
  cpSync(path.join(DEPLOY, 'prometheus', 'rules'), path.join(dir, 'rules'), { recursive: true });
  const config = parse(configText) as any;
  for (const [name, text] of Object.entries(extraRuleFiles)) {
    writeFileSync(path.join(dir, name), text);
    config.rule_files.push(name);
  }
  writeFileSync(path.join(dir, 'prometheus.yml'), stringify(config));
  const service = await startService(
    'prometheus',
    BINARIES.prometheus,
    [
      `--config.file=${path.join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
    ],
    `http://127.0.0.1:${port}`,
    '/-/ready',
    dir,
  );
  const query = async (expr: string): Promise<PromResult> => {
    const response = await fetch(`${service.url}/api/v1/query`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ query: expr }).toString(),
    });
    return (await response.json()) as PromResult;
  };
  return {
    ...service,
    dir,
    query,
    stop: async () => {
      await service.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface ReceivedWebhook {
  path: string;
  body: any;
}

/** A webhook receiver on loopback that records every Alertmanager notification. */
export async function startWebhookReceiver(): Promise<{ url: string; received: ReceivedWebhook[]; close(): Promise<void> }> {
  const received: ReceivedWebhook[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try {
        received.push({ path: req.url ?? '', body: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
      } catch {
        received.push({ path: req.url ?? '', body: Buffer.concat(chunks).toString('utf8') });
      }
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

export const readDeploy = (...parts: string[]) => readFileSync(path.join(DEPLOY, ...parts), 'utf8');

/** Every `expr` of every rule in a Prometheus rule file, with its rule name. */
export function ruleExpressions(text: string): Array<{ name: string; kind: 'record' | 'alert'; expr: string; annotations?: Record<string, string> }> {
  const doc = parse(text) as { groups: Array<{ rules: Array<{ record?: string; alert?: string; expr: string; annotations?: Record<string, string> }> }> };
  return doc.groups.flatMap((g) =>
    g.rules.map((r) => ({ name: (r.record ?? r.alert)!, kind: r.record ? ('record' as const) : ('alert' as const), expr: String(r.expr), annotations: r.annotations })),
  );
}

const PROMQL_WORDS = new Set([
  'and', 'or', 'unless', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'offset', 'inf', 'nan',
]);

/**
 * The instant-vector selectors an expression reads (`name{matchers}`), found by a small
 * scan: label lists after by/on/without/ignoring/group_* and strings are skipped, names
 * followed by `(` are functions or aggregations. Used to prove that every metric an alert
 * reads exists, even while the alert itself is (rightly) not firing.
 */
export function selectorsOf(expr: string): string[] {
  const withoutComments = expr.replace(/#[^\n]*/g, '');
  const withoutGrouping = withoutComments.replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const selectors = new Set<string>();
  const pattern = /([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{[^}]*\})?(\s*\()?/g;
  const stripped = withoutGrouping.replace(/"(?:[^"\\]|\\.)*"/g, (s) => s.replace(/[a-zA-Z_:]/g, '0'));
  for (const match of stripped.matchAll(pattern)) {
    const [, name, , call] = match;
    if (!name || call || PROMQL_WORDS.has(name.toLowerCase())) continue;
    const start = match.index!;
    // Skip identifiers inside a {...} matcher list and duration units like 5m.
    if (/[0-9.]$/.test(stripped.slice(0, start))) continue;
    const before = stripped.slice(0, start);
    if (before.lastIndexOf('{') > before.lastIndexOf('}')) continue;
    // Recover the original matcher text (strings were masked for scanning).
    const original = withoutGrouping.slice(start, start + match[0].length - (call?.length ?? 0)).trim();
    selectors.add(original);
  }
  return [...selectors];
}
