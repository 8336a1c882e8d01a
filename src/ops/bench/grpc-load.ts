import path from 'node:path';
import { credentials, loadPackageDefinition, Metadata, status, type Client, type GrpcObject, type ServiceClientConstructor, type ServiceError } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { LOADER_OPTIONS, PROTO_DIR } from '../../grpc/proto.js';
import { GrpcWireChannel, grpcFrame } from './grpc-wire.js';
import type { LatencySummary, LoadResult } from './load.js';
import { benchTensors, type TensorMetadata } from './oip-inputs.js';

/**
 * `vigil bench --protocol grpc`: closed-loop load on ModelInfer of the Open Inference Protocol's
 * gRPC form. N calls are kept outstanding (each worker sends its next call when the last one is
 * answered), spread over one or more channels (each its own HTTP/2 connection). Inputs go as
 * `raw_input_contents`, the form tritonclient.grpc sends. Every call is timed here with
 * sub-millisecond precision. The model's metadata and the probe call go through @grpc/grpc-js
 * with Vigil's own proto (proto/inference.proto); the load itself sends the same messages,
 * serialised once, through the lean client of grpc-wire.ts, so that the load generator's own cost
 * does not decide what it measures on a shared machine.
 *
 * A call that ends with a status the server sent (its trailers carry `x-request-id`, which Vigil
 * sets on every answer) is answered: OK, or counted in `non2xx` (the REST report's column) by code.
 * One that ends without (connection refused or lost, the client's own deadline) is an error.
 */

export const MODEL_INFER = 'inference.GRPCInferenceService/ModelInfer';

export interface InferMessage {
  model_name: string;
  model_version?: string;
  inputs: { name: string; datatype: string; shape: number[] }[];
  raw_input_contents: Buffer[];
}

type InferenceClient = Client & Record<string, (...args: unknown[]) => unknown>;

let serviceConstructor: ServiceClientConstructor | undefined;

function inferenceService(): ServiceClientConstructor {
  if (serviceConstructor) return serviceConstructor;
  const definition = loadSync(path.join(PROTO_DIR, 'inference.proto'), { ...LOADER_OPTIONS, includeDirs: [PROTO_DIR] });
  const root = loadPackageDefinition(definition);
  serviceConstructor = (root.inference as GrpcObject).GRPCInferenceService as ServiceClientConstructor;
  return serviceConstructor;
}

/** A ModelInfer message as the bytes the load sends: serialised with the proto, then framed. */
export function inferFrame(message: InferMessage): Buffer {
  const method = inferenceService().service.ModelInfer!;
  return grpcFrame(method.requestSerialize(message));
}

/** `channels` HTTP/2 connections to `address` (HOST:PORT) for the load. */
export function wireChannels(address: string, channels: number): GrpcWireChannel[] {
  return Array.from({ length: channels }, () => new GrpcWireChannel(address));
}

/** A @grpc/grpc-js client to `address` (HOST:PORT) for the metadata and probe calls. */
export function grpcClient(address: string): InferenceClient {
  const Service = inferenceService();
  return new Service(address, credentials.createInsecure(), {
    // Without it every client to one address shares one connection (grpc-js' global pool).
    'grpc.use_local_subchannel_pool': 1,
    'grpc.max_receive_message_length': 64 * 1024 * 1024,
    'grpc.max_send_message_length': 64 * 1024 * 1024,
  }) as unknown as InferenceClient;
}


interface Outcome {
  /** The status code; undefined when the call succeeded. */
  code: status;
  /** The server sent the status (its trailers carry x-request-id). */
  answered: boolean;
  details?: string;
  response?: unknown;
}

function unary(client: InferenceClient, method: string, request: unknown, deadlineMs?: number, metadata = new Metadata()): Promise<Outcome> {
  return new Promise((resolve) => {
    const options = deadlineMs === undefined ? {} : { deadline: Date.now() + deadlineMs };
    client[method]!(request, metadata, options, (error: ServiceError | null, response: unknown) => {
      if (!error) return resolve({ code: status.OK, answered: true, response });
      const answered = (error.metadata?.get('x-request-id').length ?? 0) > 0;
      resolve({ code: error.code, answered, details: error.details });
    });
  });
}

const codeName = (code: status): string => status[code] ?? String(code);

/** The model's inputs, from ModelMetadata, asked with @grpc/grpc-js before the load. */
export async function modelInputs(client: InferenceClient, model: string, version?: string): Promise<TensorMetadata[]> {
  const outcome = await unary(client, 'ModelMetadata', { name: model, version: version ?? '' }, 30_000);
  if (outcome.code !== status.OK) {
    throw new Error(`ModelMetadata of "${model}" answered ${codeName(outcome.code)}${outcome.answered ? '' : ' (no answer from the server)'}: ${outcome.details ?? ''}`);
  }
  return ((outcome.response as { inputs?: TensorMetadata[] }).inputs ?? []).map((t) => ({ name: t.name, datatype: t.datatype, shape: t.shape.map(Number) }));
}

/** ModelInfer messages from the bench's tensors (src/ops/bench/oip-inputs.ts), as raw contents. */
export function inferMessages(options: { model: string; version?: string; inputs: TensorMetadata[]; texts: string[]; batch: number; variants?: number }): InferMessage[] {
  return benchTensors(options).map((tensors) => ({
    model_name: options.model,
    ...(options.version ? { model_version: options.version } : {}),
    inputs: tensors.map(({ name, datatype, shape }) => ({ name, datatype, shape })),
    raw_input_contents: tensors.map((t) => t.raw),
  }));
}

/** One call, for a wrong model or input to fail loudly before N seconds of the same error. */
export async function probeInfer(client: InferenceClient, message: InferMessage, deadlineMs = 30_000): Promise<{ ok: boolean; code: string; answered: boolean; details?: string }> {
  const outcome = await unary(client, 'ModelInfer', message, deadlineMs);
  return { ok: outcome.code === status.OK, code: codeName(outcome.code), answered: outcome.answered, details: outcome.details };
}

export interface GrpcLoadOptions {
  channels: GrpcWireChannel[];
  /** ModelInfer messages as inferFrame makes them; sent in turn. */
  frames: Buffer[];
  /** Inputs per message, to report inputs/s. */
  inputsPerMessage?: number;
  /** Calls outstanding at any time (closed loop), spread over the channels. */
  concurrency: number;
  durationSeconds: number;
  /** Deadline of each call, in milliseconds. */
  timeoutMs?: number;
  /** Metadata sent with every call (lower-case keys, as HTTP/2 headers). */
  metadata?: Record<string, string>;
}

function summary(times: number[]): LatencySummary {
  times.sort((a, b) => a - b);
  const at = (q: number) => times[Math.min(times.length - 1, Math.floor(q * times.length))] ?? Number.NaN;
  const mean = times.length === 0 ? Number.NaN : times.reduce((s, t) => s + t, 0) / times.length;
  return { p50: at(0.5), p90: at(0.9), p99: at(0.99), mean, max: times.at(-1) ?? Number.NaN };
}

/**
 * Closed-loop load for `durationSeconds`: no call starts after it; the ones in flight then are
 * awaited and counted, and the run's duration ends with the last of them.
 */
export async function runGrpcLoad(options: GrpcLoadOptions): Promise<LoadResult> {
  const { channels, frames } = options;
  if (frames.length === 0 || channels.length === 0) throw new Error('runGrpcLoad needs at least one message and one channel');
  const call = { timeoutMs: options.timeoutMs, headers: options.metadata };
  const times: number[] = [];
  const statusCodes: Record<string, number> = {};
  let ok = 0;
  let errors = 0;
  let non2xx = 0;
  let next = 0;
  const start = performance.now();
  const end = start + options.durationSeconds * 1000;
  const worker = async (index: number) => {
    const channel = channels[index % channels.length]!;
    while (performance.now() < end) {
      const frame = frames[next++ % frames.length]!;
      const begun = performance.now();
      const outcome = await channel.call(MODEL_INFER, frame, call);
      const elapsed = performance.now() - begun;
      if (!outcome.answered) {
        errors++;
        continue;
      }
      times.push(elapsed);
      const name = codeName(outcome.code!);
      statusCodes[name] = (statusCodes[name] ?? 0) + 1;
      if (outcome.code === status.OK) ok++;
      else non2xx++;
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, (_, i) => worker(i)));
  const seconds = (performance.now() - start) / 1000;
  return {
    connections: options.concurrency,
    durationSeconds: seconds,
    requestsPerSecond: ok / seconds,
    inputsPerSecond: (ok * (options.inputsPerMessage ?? 1)) / seconds,
    latencyMs: summary(times),
    requests: times.length + errors,
    errors,
    non2xx,
    statusCodes,
  };
}
