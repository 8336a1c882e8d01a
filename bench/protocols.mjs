#!/usr/bin/env node
// Same-run comparison of the Open Inference Protocol's three wire forms on one server:
// REST with JSON tensors, REST with the binary tensor extension, gRPC with raw contents.
// For digits (784 FP32 pixels) and sentiment (one BYTES text): requests per second at C
// concurrent closed loops, server CPU per request (the whole process, worker threads included,
// from /proc/<pid>/stat), and payload bytes per request (request + response bodies or
// messages, without HTTP headers or HTTP/2 framing). Rounds are interleaved so a burst of load
// from elsewhere hits every form alike; compare the ratios, not the absolute figures.
//
//   npm run build && node bench/protocols.mjs [--duration 4] [--rounds 2] [--connections 32] [--channels 1]
//
// REST opens one keep-alive connection per closed loop (HTTP/1.1 answers one request at a time per
// connection); gRPC multiplexes the loops' calls over --channels HTTP/2 connections, by default
// one, which is what a gRPC client does unless told otherwise (one channel per target in grpc-js,
// grpc-go and tritonclient.grpc) and what `vigil bench --protocol grpc` defaults to.
//
// It needs ../shared beside the checkout (the protocol's .proto, to serialise the gRPC message).
import { spawn } from 'node:child_process';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { cpuSeconds, freePort } from './proc.mjs';
import { loadSync } from '@grpc/proto-loader';
import { GrpcWireChannel, grpcFrame } from '../dist/ops/bench/grpc-wire.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const { values } = parseArgs({ options: { duration: { type: 'string', default: '4' }, rounds: { type: 'string', default: '2' }, connections: { type: 'string', default: '32' }, channels: { type: 'string', default: '1' } } });
const DURATION_MS = Number(values.duration) * 1000;
const ROUNDS = Number(values.rounds);
const CONNECTIONS = Number(values.connections);
const CHANNELS = Number(values.channels);

const le32 = (n) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
};
// A stroke with MNIST-like grey levels (k/255): JSON writes each as ~18 digits, as clients do.
const pixels = Array.from({ length: 784 }, (_, i) => (i % 28 >= 11 && i % 28 <= 16 && i > 120 && i < 660 ? ((i * 37) % 200 + 55) / 255 : 0));
const pixelBytes = Buffer.alloc(784 * 4);
pixels.forEach((v, i) => pixelBytes.writeFloatLE(v, i * 4));
const TEXT = 'I loved this movie, the acting was wonderful and the story moving.';
const textBytes = Buffer.concat([le32(Buffer.byteLength(TEXT)), Buffer.from(TEXT)]);

const MODELS = {
  digits: { name: 'pixels', datatype: 'FP32', shape: [1, 784], data: pixels, raw: pixelBytes },
  sentiment: { name: 'text', datatype: 'BYTES', shape: [1], data: [TEXT], raw: textBytes },
};

function restJsonBody(model) {
  const m = MODELS[model];
  return Buffer.from(JSON.stringify({ inputs: [{ name: m.name, datatype: m.datatype, shape: m.shape, data: m.data }] }));
}

function restBinaryBody(model) {
  const m = MODELS[model];
  const head = Buffer.from(JSON.stringify({ parameters: { binary_data_output: true }, inputs: [{ name: m.name, datatype: m.datatype, shape: m.shape, parameters: { binary_data_size: m.raw.length } }] }));
  return { body: Buffer.concat([head, m.raw]), headerLength: head.length };
}

const agent = new http.Agent({ keepAlive: true, maxSockets: CONNECTIONS });

function restCall(port, model, body, headers) {
  return new Promise((resolve, reject) => {
    const request = http.request({ host: '127.0.0.1', port, path: `/v2/models/${model}/infer`, method: 'POST', agent, headers: { 'content-length': body.length, ...headers } }, (response) => {
      let bytes = 0;
      response.on('data', (chunk) => (bytes += chunk.length));
      response.on('end', () => (response.statusCode === 200 ? resolve(bytes) : reject(new Error(`HTTP ${response.statusCode}`))));
    });
    request.on('error', reject);
    request.end(body);
  });
}

const definition = loadSync(path.resolve(ROOT, '..', 'shared', 'docs', 'references', 'open-inference-protocol', 'open_inference_grpc.proto'), { keepCase: true, longs: Number, defaults: false, oneofs: true });
const inferMethod = definition['inference.GRPCInferenceService'].ModelInfer;

function grpcRequest(model) {
  const m = MODELS[model];
  return { model_name: model, inputs: [{ name: m.name, datatype: m.datatype, shape: m.shape }], raw_input_contents: [m.raw] };
}

async function closedLoop(call) {
  let done = 0;
  let failed = 0;
  let bytes = 0;
  const end = performance.now() + DURATION_MS;
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (performance.now() < end) {
        try {
          bytes += await call();
          done++;
        } catch {
          failed++;
        }
      }
    }),
  );
  return { done, failed, bytes };
}

async function main() {
  const port = await freePort();
  const grpcPort = await freePort();
  const server = spawn(process.execPath, [path.join(ROOT, 'dist/cli/main.js'), 'serve', '--host', '127.0.0.1', '--port', String(port), '--grpc-port', String(grpcPort), '--no-embedded', '--model', 'models/digits', '--model', 'models/sentiment', '--log-level', 'warn'], { cwd: ROOT, stdio: 'ignore', env: { ...process.env, MALLOC_MMAP_THRESHOLD_: '131072' } });
  try {
    for (let i = 0; i < 300; i++) {
      const ok = await fetch(`http://127.0.0.1:${port}/ready`).then((r) => r.ok, () => false);
      if (ok) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    // The same lean HTTP/2 client as `vigil bench --protocol grpc` (src/ops/bench/grpc-wire.ts):
    // @grpc/grpc-js' client costs ~3x node:http's per call, and the client shares the two cores.
    const channels = Array.from({ length: CHANNELS }, () => new GrpcWireChannel(`127.0.0.1:${grpcPort}`));
    let next = 0;
    const forms = {
      'REST JSON': (model) => {
        const body = restJsonBody(model);
        return { requestBytes: body.length, call: () => restCall(port, model, body, { 'content-type': 'application/json' }) };
      },
      'REST binary': (model) => {
        const { body, headerLength } = restBinaryBody(model);
        return { requestBytes: body.length, call: () => restCall(port, model, body, { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(headerLength) }) };
      },
      'gRPC raw': (model) => {
        const message = inferMethod.requestSerialize(grpcRequest(model));
        const frame = grpcFrame(message);
        return {
          requestBytes: message.length,
          call: async () => {
            const outcome = await channels[next++ % channels.length].call('inference.GRPCInferenceService/ModelInfer', frame);
            if (outcome.code !== 0) throw new Error(`gRPC status ${outcome.code}: ${outcome.details}`);
            return outcome.bytes - 5; // the message, without its 5-byte length prefix
          },
        };
      },
    };
    const results = {};
    for (let round = 0; round <= ROUNDS; round++) {
      for (const model of Object.keys(MODELS)) {
        for (const [form, make] of Object.entries(forms)) {
          const { call, requestBytes } = make(model);
          const cpuBefore = cpuSeconds(server.pid);
          const started = performance.now();
          const { done, failed, bytes } = await closedLoop(call);
          const seconds = (performance.now() - started) / 1000;
          const cpu = cpuSeconds(server.pid) - cpuBefore;
          if (round === 0) continue; // warm-up round
          const key = `${model} | ${form}`;
          (results[key] ??= []).push({ rps: done / seconds, cpuUs: (cpu / done) * 1e6, failed, bytes: requestBytes + bytes / Math.max(done, 1) });
        }
      }
    }
    const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    console.log(`${CONNECTIONS} closed loops (REST: as many connections; gRPC: over ${CHANNELS} channel${CHANNELS === 1 ? '' : 's'}), ${ROUNDS} rounds of ${DURATION_MS / 1000} s after a warm-up round; Node ${process.version}, ${os.cpus().length}x ${os.cpus()[0]?.model ?? 'unknown CPU'}, load average ${os.loadavg()[0].toFixed(2)} at the end`);
    console.log(`| model | form | req/s | server CPU per request | payload bytes per request | failed |`);
    console.log(`| --- | --- | --- | --- | --- | --- |`);
    const table = {};
    for (const [key, runs] of Object.entries(results)) {
      const [model, form] = key.split(' | ');
      const row = { rps: median(runs.map((r) => r.rps)), cpuUs: median(runs.map((r) => r.cpuUs)), bytes: median(runs.map((r) => r.bytes)), failed: runs.reduce((a, r) => a + r.failed, 0) };
      (table[model] ??= {})[form] = row;
      console.log(`| ${model} | ${form} | ${row.rps.toFixed(0)} | ${row.cpuUs.toFixed(0)} µs | ${row.bytes.toFixed(0)} | ${row.failed} |`);
    }
    for (const [model, forms] of Object.entries(table)) {
      const json = forms['REST JSON'].rps;
      console.log(`${model}: REST binary ${(forms['REST binary'].rps / json).toFixed(2)}x REST JSON, gRPC ${(forms['gRPC raw'].rps / json).toFixed(2)}x REST JSON (req/s)`);
    }
    for (const channel of channels) channel.close();
  } finally {
    server.kill('SIGTERM');
    agent.destroy();
  }
}

await main();
