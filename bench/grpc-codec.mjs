#!/usr/bin/env node
// ModelInfer's protobuf codec: Vigil's own (src/grpc/infer-codec.ts) against @grpc/proto-loader's
// (protobufjs with object conversion), the request decoded and the answer encoded, for the
// messages of the protocols benchmark: digits (784 FP32 pixels, raw) and sentiment (one BYTES
// text, raw). Interleaved rounds, median nanoseconds per message, in one process.
//
//   npm run build && node bench/grpc-codec.mjs [--rounds 5] [--iterations 200000]
import os from 'node:os';
import { parseArgs } from 'node:util';
import { loadSync } from '@grpc/proto-loader';
import { decodeModelInferRequest, encodeModelInferResponse } from '../dist/grpc/infer-codec.js';
import { LOADER_OPTIONS, PROTO_DIR } from '../dist/grpc/proto.js';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '5' }, iterations: { type: 'string', default: '200000' } } });
const ROUNDS = Number(values.rounds);
const ITERATIONS = Number(values.iterations);

const loader = loadSync('inference.proto', { ...LOADER_OPTIONS, includeDirs: [PROTO_DIR] })['inference.GRPCInferenceService'].ModelInfer;

const le32 = (n) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
};
const TEXT = 'I loved this movie, the acting was wonderful and the story moving.';
const pixels = Buffer.alloc(784 * 4);
for (let i = 0; i < 784; i++) pixels.writeFloatLE(((i * 37) % 200) / 255, i * 4);
const probabilities = (n) => {
  const b = Buffer.alloc(4 * n);
  for (let i = 0; i < n; i++) b.writeFloatLE(1 / n, 4 * i);
  return b;
};
const MESSAGES = {
  sentiment: {
    request: loader.requestSerialize({ model_name: 'sentiment', inputs: [{ name: 'text', datatype: 'BYTES', shape: [1] }], raw_input_contents: [Buffer.concat([le32(Buffer.byteLength(TEXT)), Buffer.from(TEXT)])] }),
    answer: {
      model_name: 'sentiment',
      model_version: '1',
      id: '',
      outputs: [
        { name: 'label', datatype: 'BYTES', shape: [1] },
        { name: 'probabilities', datatype: 'FP32', shape: [1, 2] },
      ],
      raw_output_contents: [Buffer.concat([le32(8), Buffer.from('POSITIVE')]), probabilities(2)],
    },
  },
  digits: {
    request: loader.requestSerialize({ model_name: 'digits', inputs: [{ name: 'pixels', datatype: 'FP32', shape: [1, 784] }], raw_input_contents: [pixels] }),
    answer: {
      model_name: 'digits',
      model_version: '1',
      id: '',
      outputs: [
        { name: 'label', datatype: 'INT64', shape: [1] },
        { name: 'probabilities', datatype: 'FP32', shape: [1, 10] },
      ],
      raw_output_contents: [Buffer.alloc(8), probabilities(10)],
    },
  },
};

function nsPer(fn) {
  const started = process.hrtime.bigint();
  for (let i = 0; i < ITERATIONS; i++) fn();
  return Number(process.hrtime.bigint() - started) / ITERATIONS;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(`${ROUNDS} rounds of ${ITERATIONS} per case, interleaved; Node ${process.version}, ${os.cpus()[0]?.model ?? 'unknown CPU'}, load average ${os.loadavg()[0].toFixed(2)}`);
console.log('| message | step | proto-loader ns | Vigil ns | ratio |');
console.log('| --- | --- | --- | --- | --- |');
for (const [model, { request, answer }] of Object.entries(MESSAGES)) {
  const cases = {
    'decode request': [() => loader.requestDeserialize(request), () => decodeModelInferRequest(request)],
    'encode answer': [() => loader.responseSerialize(answer), () => encodeModelInferResponse(answer)],
  };
  for (const [step, [theirs, ours]] of Object.entries(cases)) {
    const a = [];
    const b = [];
    nsPer(theirs);
    nsPer(ours); // warm-up
    for (let round = 0; round < ROUNDS; round++) {
      a.push(nsPer(theirs));
      b.push(nsPer(ours));
    }
    console.log(`| ${model} | ${step} | ${median(a).toFixed(0)} | ${median(b).toFixed(0)} | ${(median(a) / median(b)).toFixed(2)}x |`);
  }
}
