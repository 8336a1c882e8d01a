import { parseArgs } from 'node:util';
import { grpcClient, inferFrame, inferMessages, MODEL_INFER, modelInputs, probeInfer, runGrpcLoad, wireChannels } from '../ops/bench/grpc-load.js';
import { runLoad, textBodies, type LoadResult } from '../ops/bench/load.js';
import { benchTensors, binaryInferBody, jsonInferBody, type TensorMetadata } from '../ops/bench/oip-inputs.js';
import { machineInfo, type MachineInfo } from '../ops/bench/machine.js';
import { ProcessSampler, type ProcessUsage } from '../ops/bench/proc.js';
import { freePort, startVigil, type StartedServer } from '../ops/bench/spawn.js';
import { loadTexts } from '../ops/bench/texts.js';

const HELP = `usage: vigil bench [options]

Drives a Vigil server with autocannon (closed loop: each connection keeps one request
outstanding) and reports throughput, p50/p90/p99 latency, errors and non-2xx answers, and the
server's CPU and peak RSS (when it started the server, or was given --pid). With --protocol grpc
it drives ModelInfer of the Open Inference Protocol over gRPC instead, with its own closed loop
over @grpc/grpc-js (N calls outstanding) and the same report (non2xx: answers other than OK).

target:
  --protocol P           rest (default): POST {"text": ...} to /v1/models/NAME/predict;
                         the Open Inference Protocol, inputs built from the model's metadata
                         (BYTES inputs take the texts, FP32 inputs deterministic values in [0, 1]):
                         oip-json: POST /v2/models/NAME/infer with JSON tensors;
                         oip-binary: the same with the binary tensor extension (outputs binary too);
                         grpc: ModelInfer with raw_input_contents
  --url URL              a running server; without it (and without --grpc-address), bench starts
                         \`vigil serve\` itself (the embedded models plus any --model) and stops it
                         afterwards (with --protocol grpc, on a free gRPC port)
  --grpc-address H:P     grpc: the server's gRPC listener (default: the --url host, port 8081)
  --channels N           grpc: HTTP/2 connections the calls are spread over (default 1)
  --pid N                with --url: the server's process id, for CPU and RSS
  --model NAME           model to predict with (default: sentiment)
  --path PATH            rest: POST here instead of /v1/models/NAME/predict
  --serve-model [N=]DIR  self-started server: also serve this model folder (repeatable)
  --no-embedded          self-started server: only the --serve-model folders
  --threads N, --sessions N, --max-batch-size N, --max-delay-ms MS, --max-queue N,
  --bucketing on|off     passed to the self-started server
  --serve-arg=ARG        any other flag for the self-started server (repeatable; write it
                         with = when ARG starts with --, e.g. --serve-arg=--log-level --serve-arg=warn)

load:
  --texts FILE           sentences, one per line (.tsv: first column); default: short rows of
                         ../shared/data/sst2/train.tsv, else a few built-in sentences
  --concurrency N[,N..]  connections (grpc: calls outstanding; default 32); several values run
                         one after another
  --duration S           seconds measured per run (default 10)
  --warmup S             seconds of unmeasured load before the first run (default 2)
  --batch N              texts per request as {"texts": [...]} (default 1: {"text": ...});
                         oip-*, grpc: inputs per request (the first dimension of each tensor)
  --rate R               rest, oip-*: open loop, R requests/s overall instead of as fast as possible
  --timeout-ms MS        send x-vigil-timeout-ms with every request (grpc: each call's deadline)

output:
  --json                 print the report as JSON
`;

const PROTOCOLS = ['rest', 'oip-json', 'oip-binary', 'grpc'] as const;
type Protocol = (typeof PROTOCOLS)[number];

export interface BenchRun extends LoadResult {
  rate?: number;
  server?: ProcessUsage;
}

export interface BenchReport {
  tool: 'vigil bench';
  startedAt: string;
  machine: MachineInfo;
  target: {
    protocol: Protocol;
    /** The HTTP server (REST, model info); with --grpc-address alone, absent. */
    url?: string;
    /** grpc: HOST:PORT of the gRPC listener. */
    grpcAddress?: string;
    /** grpc: HTTP/2 connections. */
    channels?: number;
    /** rest, oip-*: the POSTed path; grpc: inference.GRPCInferenceService/ModelInfer. */
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
  const { protocol } = report.target;
  const at = protocol === 'grpc' ? `${report.target.grpcAddress} (gRPC, ${report.target.channels} channel${report.target.channels === 1 ? '' : 's'})` : report.target.url;
  const form = protocol === 'grpc' ? ` of ${report.target.model}` : protocol === 'oip-json' ? ' (JSON tensors)' : protocol === 'oip-binary' ? ' (binary tensors)' : '';
  const lines = [
    `vigil bench: ${report.target.path}${form} at ${at}${report.target.selfStarted ? ' (self-started)' : ''}`,
    `machine: ${report.machine.cpus} x ${report.machine.cpuModel}, node ${report.machine.node}, load average ${report.machine.loadAverage}`,
    `texts: ${report.texts.count} from ${report.texts.source} (${report.texts.words.min}-${report.texts.words.max} words, median ${report.texts.words.median}); ${report.batch} per request`,
  ];
  if (report.target.coldStartMs !== undefined) lines.push(`cold start (spawn to /ready 200): ${fmt(report.target.coldStartMs, 0)} ms`);
  if (report.target.batching !== undefined) lines.push(`batching: ${JSON.stringify(report.target.batching)}`);
  lines.push('');
  lines.push(`conc  rate     req/s  inputs/s   p50 ms   p90 ms   p99 ms  errors  ${report.target.protocol === 'grpc' ? ' nonOK' : 'non2xx'}  cpu %  peak RSS MiB`);
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
        protocol: { type: 'string' },
        url: { type: 'string' },
        'grpc-address': { type: 'string' },
        channels: { type: 'string' },
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
  let channels = 1;
  const protocol = (values.protocol ?? 'rest') as Protocol;
  try {
    if (!PROTOCOLS.includes(protocol)) throw new Error(`--protocol must be one of ${PROTOCOLS.join(', ')}, got "${protocol}"`);
    if (protocol !== 'rest' && values.path !== undefined) throw new Error('--path is for --protocol rest');
    if (protocol === 'grpc') {
      if (values.rate !== undefined) throw new Error('--rate is for the HTTP protocols (rest, oip-json, oip-binary)');
      channels = Math.round(positive(values.channels, '--channels', 1));
      if (values['grpc-address'] !== undefined && !/^[^\s/]+:\d{1,5}$/.test(values['grpc-address'])) throw new Error(`--grpc-address must be HOST:PORT, got "${values['grpc-address']}"`);
    } else {
      for (const flag of ['grpc-address', 'channels'] as const) if (values[flag] !== undefined) throw new Error(`--${flag} is for --protocol grpc`);
    }
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
  const path =
    protocol === 'grpc' ? MODEL_INFER : protocol === 'rest' ? (values.path ?? `/v1/models/${encodeURIComponent(model)}/predict`) : `/v2/models/${encodeURIComponent(model)}/infer`;
  let texts;
  try {
    texts = loadTexts(values.texts);
  } catch (error) {
    console.error(`vigil bench: ${(error as Error).message}`);
    return 2;
  }

  let server: StartedServer | undefined;
  let serveArgs: string[] | undefined;
  let grpcAddress = values['grpc-address'];
  if (!values.url && !grpcAddress) {
    if (protocol === 'grpc' && (values['serve-arg'] ?? []).some((a) => a.startsWith('--grpc-port'))) {
      console.error('vigil bench: with --protocol grpc, bench gives the server it starts a free gRPC port: drop --serve-arg=--grpc-port');
      return 2;
    }
    const grpcPort = protocol === 'grpc' ? await freePort() : undefined;
    if (grpcPort !== undefined) grpcAddress = `127.0.0.1:${grpcPort}`;
    serveArgs = [
      ...(grpcPort === undefined ? [] : ['--grpc-port', String(grpcPort)]),
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
  const url = (values.url ?? server?.url)?.replace(/\/$/, '');
  if (protocol === 'grpc' && !grpcAddress) grpcAddress = `${new URL(url!).hostname}:8081`;
  const serverPid = server?.pid ?? pid;
  const report: BenchReport = {
    tool: 'vigil bench',
    startedAt: new Date().toISOString(),
    machine: machineInfo(),
    target: {
      protocol,
      url,
      ...(protocol === 'grpc' ? { grpcAddress, channels } : {}),
      path,
      model,
      selfStarted: server !== undefined,
      pid: serverPid,
      coldStartMs: server?.coldStartMs,
      serveArgs,
    },
    texts: { source: texts.source, count: texts.texts.length, words: texts.words },
    batch,
    runs: [],
  };
  if (url) {
    report.target.batching = await fetch(`${url}/v1/models/${encodeURIComponent(model)}`)
      .then(async (r) => (r.ok ? ((await r.json()) as { batching?: unknown }).batching : undefined))
      .catch(() => undefined);
  }
  if (protocol === 'grpc') {
    const code = await benchGrpc(report, { address: grpcAddress!, channels, model, texts: texts.texts, batch, concurrency, duration, warmup, serverPid, timeoutMs: values['timeout-ms'] });
    await server?.stop();
    if (code !== 0) return code;
    console.log(values.json ? JSON.stringify(report, null, 2) : formatReport(report));
    return report.runs.some((r) => r.requests === 0) ? 1 : 0;
  }
  const headers = values['timeout-ms'] === undefined ? undefined : { 'x-vigil-timeout-ms': values['timeout-ms'] };
  try {
    let bodies: Array<string | Buffer> = [];
    let bodyHeaders: Array<Record<string, string>> | undefined;
    if (protocol === 'rest') bodies = textBodies(texts.texts, batch);
    else {
      try {
        const tensors = benchTensors({ model, inputs: await oipInputs(url!, model), texts: texts.texts, batch });
        if (protocol === 'oip-json') bodies = tensors.map(jsonInferBody);
        else {
          const binary = tensors.map(binaryInferBody);
          bodies = binary.map((b) => b.body);
          bodyHeaders = binary.map((b) => b.headers);
        }
      } catch (error) {
        console.error(`vigil bench: ${(error as Error).message}`);
        return 1;
      }
    }
    // One request first: a wrong model or path fails loudly instead of as N seconds of 404s.
    const probe = await fetch(`${url!}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...bodyHeaders?.[0] }, body: typeof bodies[0] === 'string' ? bodies[0] : new Uint8Array(bodies[0]!) });
    if (probe.status >= 400 && probe.status < 500) {
      console.error(`vigil bench: POST ${path} answered ${probe.status}: ${(await probe.text()).slice(0, 300)}`);
      return 1;
    }
    if (warmup > 0) await runLoad({ url: url!, path, bodies, bodyHeaders, connections: Math.max(...concurrency), durationSeconds: warmup, overallRate: rate, headers });
    for (const connections of concurrency) {
      const sampler = serverPid === undefined ? undefined : new ProcessSampler(serverPid);
      sampler?.start();
      const result = await runLoad({ url: url!, path, bodies, bodyHeaders, inputsPerBody: batch, connections, durationSeconds: duration, overallRate: rate, headers });
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

/** The model's inputs from OIP REST model metadata (GET /v2/models/NAME). */
async function oipInputs(url: string, model: string): Promise<TensorMetadata[]> {
  const response = await fetch(`${url}/v2/models/${encodeURIComponent(model)}`);
  const text = await response.text();
  if (!response.ok) throw new Error(`GET /v2/models/${model} answered ${response.status}: ${text.slice(0, 300)}`);
  return ((JSON.parse(text) as { inputs?: TensorMetadata[] }).inputs ?? []).map((t) => ({ name: t.name, datatype: t.datatype, shape: t.shape.map(Number) }));
}

/** The runs of --protocol grpc, into the report; 0, or the exit code of a failure (already explained on stderr). */
async function benchGrpc(
  report: BenchReport,
  options: { address: string; channels: number; model: string; texts: string[]; batch: number; concurrency: number[]; duration: number; warmup: number; serverPid?: number; timeoutMs?: string },
): Promise<number> {
  const client = grpcClient(options.address);
  const channels = wireChannels(options.address, options.channels);
  const timeoutMs = options.timeoutMs === undefined ? undefined : Number(options.timeoutMs);
  try {
    let messages;
    try {
      const inputs = await modelInputs(client, options.model);
      messages = inferMessages({ model: options.model, inputs, texts: options.texts, batch: options.batch });
    } catch (error) {
      console.error(`vigil bench: ${(error as Error).message}`);
      return 1;
    }
    // One call first: a wrong model or input fails loudly instead of as N seconds of errors.
    const probe = await probeInfer(client, messages[0]!);
    if (!probe.ok) {
      console.error(`vigil bench: ModelInfer of "${options.model}" at ${options.address} answered ${probe.code}${probe.answered ? '' : ' (no answer from the server)'}: ${(probe.details ?? '').slice(0, 300)}`);
      return 1;
    }
    const load = { channels, frames: messages.map(inferFrame), inputsPerMessage: options.batch, timeoutMs };
    if (options.warmup > 0) await runGrpcLoad({ ...load, concurrency: Math.max(...options.concurrency), durationSeconds: options.warmup });
    for (const concurrency of options.concurrency) {
      const sampler = options.serverPid === undefined ? undefined : new ProcessSampler(options.serverPid);
      sampler?.start();
      const result = await runGrpcLoad({ ...load, concurrency, durationSeconds: options.duration });
      const usage = sampler?.stop();
      report.runs.push({ ...result, ...(usage ? { server: usage } : {}) });
    }
    return 0;
  } catch (error) {
    console.error(`vigil bench: ${(error as Error).message}`);
    return 1;
  } finally {
    client.close();
    for (const channel of channels) channel.close();
  }
}
