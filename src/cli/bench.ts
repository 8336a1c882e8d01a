import { parseArgs } from 'node:util';
import { runLoad, textBodies, type LoadResult } from '../ops/bench/load.js';
import { machineInfo, type MachineInfo } from '../ops/bench/machine.js';
import { ProcessSampler, type ProcessUsage } from '../ops/bench/proc.js';
import { startVigil, type StartedServer } from '../ops/bench/spawn.js';
import { loadTexts } from '../ops/bench/texts.js';

const HELP = `usage: vigil bench [options]

Drives a Vigil server with autocannon (closed loop: each connection keeps one request
outstanding) and reports throughput, p50/p90/p99 latency, errors and non-2xx answers, and the
server's CPU and peak RSS (when it started the server, or was given --pid).

target:
  --url URL              a running server; without it, bench starts \`vigil serve\` itself
                         (the embedded models plus any --model) and stops it afterwards
  --pid N                with --url: the server's process id, for CPU and RSS
  --model NAME           model to predict with (default: sentiment)
  --path PATH            POST here instead of /v1/models/NAME/predict
  --serve-model [N=]DIR  self-started server: also serve this model folder (repeatable)
  --no-embedded          self-started server: only the --serve-model folders
  --threads N, --sessions N, --max-batch-size N, --max-delay-ms MS, --max-queue N,
  --bucketing on|off     passed to the self-started server
  --serve-arg=ARG        any other flag for the self-started server (repeatable; write it
                         with = when ARG starts with --, e.g. --serve-arg=--log-level --serve-arg=warn)

load:
  --texts FILE           sentences, one per line (.tsv: first column); default: short rows of
                         ../shared/data/sst2/train.tsv, else a few built-in sentences
  --concurrency N[,N..]  connections (default 32); several values run one after another
  --duration S           seconds measured per run (default 10)
  --warmup S             seconds of unmeasured load before the first run (default 2)
  --batch N              texts per request as {"texts": [...]} (default 1: {"text": ...})
  --rate R               open loop: R requests/s overall instead of as fast as possible
  --timeout-ms MS        send x-vigil-timeout-ms with every request

output:
  --json                 print the report as JSON
`;

export interface BenchRun extends LoadResult {
  rate?: number;
  server?: ProcessUsage;
}

export interface BenchReport {
  tool: 'vigil bench';
  startedAt: string;
  machine: MachineInfo;
  target: {
    url: string;
    path: string;
    model: string;
    selfStarted: boolean;
    pid?: number;
    coldStartMs?: number;
    serveArgs?: string[];
    /** The model's batching settings as the server reports them (GET /v1/models/NAME), when it does. */
    batching?: unknown;
  };
  texts: { source: string; count: number; words: { min: number; median: number; max: number } };
  batch: number;
  runs: BenchRun[];
}

function positive(raw: string | undefined, flag: string, fallback: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${flag} must be a positive number, got "${raw}"`);
  return n;
}

const fmt = (n: number, digits = 1) => n.toFixed(digits);

export function formatReport(report: BenchReport): string {
  const lines = [
    `vigil bench: ${report.target.path} at ${report.target.url}${report.target.selfStarted ? ' (self-started)' : ''}`,
    `machine: ${report.machine.cpus} x ${report.machine.cpuModel}, node ${report.machine.node}, load average ${report.machine.loadAverage}`,
    `texts: ${report.texts.count} from ${report.texts.source} (${report.texts.words.min}-${report.texts.words.max} words, median ${report.texts.words.median}); ${report.batch} per request`,
  ];
  if (report.target.coldStartMs !== undefined) lines.push(`cold start (spawn to /ready 200): ${fmt(report.target.coldStartMs, 0)} ms`);
  if (report.target.batching !== undefined) lines.push(`batching: ${JSON.stringify(report.target.batching)}`);
  lines.push('');
  lines.push('conc  rate     req/s  inputs/s   p50 ms   p90 ms   p99 ms  errors  non2xx  cpu %  peak RSS MiB');
  for (const run of report.runs) {
    lines.push(
      [
        String(run.connections).padStart(4),
        (run.rate === undefined ? '-' : String(run.rate)).padStart(5),
        fmt(run.requestsPerSecond).padStart(9),
        fmt(run.inputsPerSecond).padStart(9),
        fmt(run.latencyMs.p50, 2).padStart(8),
        fmt(run.latencyMs.p90, 2).padStart(8),
        fmt(run.latencyMs.p99, 2).padStart(8),
        String(run.errors).padStart(7),
        String(run.non2xx).padStart(7),
        (run.server ? fmt(run.server.cpuPercent, 0) : '-').padStart(6),
        (run.server ? fmt(run.server.peakRssMiB, 0) : '-').padStart(13),
      ].join(' '),
    );
  }
  return lines.join('\n');
}

export async function run(args: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        url: { type: 'string' },
        pid: { type: 'string' },
        model: { type: 'string' },
        path: { type: 'string' },
        'serve-model': { type: 'string', multiple: true },
        'no-embedded': { type: 'boolean' },
        threads: { type: 'string' },
        sessions: { type: 'string' },
        'max-batch-size': { type: 'string' },
        'max-delay-ms': { type: 'string' },
        'max-queue': { type: 'string' },
        bucketing: { type: 'string' },
        'serve-arg': { type: 'string', multiple: true },
        texts: { type: 'string' },
        concurrency: { type: 'string' },
        duration: { type: 'string' },
        warmup: { type: 'string' },
        batch: { type: 'string' },
        rate: { type: 'string' },
        'timeout-ms': { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    console.error(`vigil bench: ${(error as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  let concurrency: number[];
  let duration: number;
  let warmup: number;
  let batch: number;
  let rate: number | undefined;
  let pid: number | undefined;
  try {
    concurrency = (values.concurrency ?? '32').split(',').map((c) => positive(c.trim(), '--concurrency', 32));
    duration = positive(values.duration, '--duration', 10);
    warmup = values.warmup === '0' ? 0 : positive(values.warmup, '--warmup', 2);
    batch = Math.round(positive(values.batch, '--batch', 1));
    rate = values.rate === undefined ? undefined : positive(values.rate, '--rate', 1);
    pid = values.pid === undefined ? undefined : Math.round(positive(values.pid, '--pid', 1));
    if (values['timeout-ms'] !== undefined) positive(values['timeout-ms'], '--timeout-ms', 1);
  } catch (error) {
    console.error(`vigil bench: ${(error as Error).message}\n\n${HELP}`);
    return 2;
  }
  const model = values.model ?? 'sentiment';
  const path = values.path ?? `/v1/models/${encodeURIComponent(model)}/predict`;
  let texts;
  try {
    texts = loadTexts(values.texts);
  } catch (error) {
    console.error(`vigil bench: ${(error as Error).message}`);
    return 2;
  }

  let server: StartedServer | undefined;
  let serveArgs: string[] | undefined;
  if (!values.url) {
    serveArgs = [
      ...(values['no-embedded'] ? ['--no-embedded'] : []),
      ...(values['serve-model'] ?? []).flatMap((m) => ['--model', m]),
      ...(['threads', 'sessions', 'max-batch-size', 'max-delay-ms', 'max-queue', 'bucketing'] as const).flatMap((flag) =>
        values[flag] === undefined ? [] : [`--${flag}`, values[flag]],
      ),
      ...(values['serve-arg'] ?? []),
    ];
    try {
      server = await startVigil(serveArgs);
    } catch (error) {
      console.error(`vigil bench: could not start the server: ${(error as Error).message}`);
      return 1;
    }
  }
  const url = (values.url ?? server!.url).replace(/\/$/, '');
  const serverPid = server?.pid ?? pid;
  const report: BenchReport = {
    tool: 'vigil bench',
    startedAt: new Date().toISOString(),
    machine: machineInfo(),
    target: { url, path, model, selfStarted: server !== undefined, pid: serverPid, coldStartMs: server?.coldStartMs, serveArgs },
    texts: { source: texts.source, count: texts.texts.length, words: texts.words },
    batch,
    runs: [],
  };
  report.target.batching = await fetch(`${url}/v1/models/${encodeURIComponent(model)}`)
    .then(async (r) => (r.ok ? ((await r.json()) as { batching?: unknown }).batching : undefined))
    .catch(() => undefined);
  const bodies = textBodies(texts.texts, batch);
  const headers = values['timeout-ms'] === undefined ? undefined : { 'x-vigil-timeout-ms': values['timeout-ms'] };
  try {
    // One request first: a wrong model or path fails loudly instead of as N seconds of 404s.
    const probe = await fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: bodies[0] });
    if (probe.status >= 400 && probe.status < 500) {
      console.error(`vigil bench: POST ${path} answered ${probe.status}: ${(await probe.text()).slice(0, 300)}`);
      return 1;
    }
    if (warmup > 0) await runLoad({ url, path, bodies, connections: Math.max(...concurrency), durationSeconds: warmup, overallRate: rate, headers });
    for (const connections of concurrency) {
      const sampler = serverPid === undefined ? undefined : new ProcessSampler(serverPid);
      sampler?.start();
      const result = await runLoad({ url, path, bodies, inputsPerBody: batch, connections, durationSeconds: duration, overallRate: rate, headers });
      const usage = sampler?.stop();
      report.runs.push({ ...result, ...(rate === undefined ? {} : { rate }), ...(usage ? { server: usage } : {}) });
    }
  } catch (error) {
    console.error(`vigil bench: ${(error as Error).message}`);
    return 1;
  } finally {
    await server?.stop();
  }
  console.log(values.json ? JSON.stringify(report, null, 2) : formatReport(report));
  const failed = report.runs.some((r) => r.requests === 0);
  return failed ? 1 : 0;
}
