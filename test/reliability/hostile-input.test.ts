import { loadSync } from '@grpc/proto-loader';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GrpcWireChannel, grpcFrame } from '../../src/ops/bench/grpc-wire.js';
import { freePort } from '../../src/ops/bench/spawn.js';
import { LOADER_OPTIONS, PROTO_DIR } from '../../src/grpc/proto.js';
import { startVigil, type VigilProcess } from '../helpers/server.js';
import { hasShared, sharedPath } from '../helpers/shared.js';
import { report } from './harness.js';

/**
 * Oversized and hostile input, property-based (fast-check) over every JSON and Open Inference
 * Protocol endpoint that takes a body: wrong types, deep nesting, huge numbers and arrays,
 * invalid UTF-8, lone surrogates, control characters, huge shapes. The promise: a 4xx that is
 * JSON and names the problem, never a 5xx, never a stack trace, and the server stays up. The
 * same over gRPC's ModelInfer, with bytes no generated client would send: random bytes, valid
 * messages with bytes changed or cut, and well-formed messages with hostile contents; the
 * promise there is a caller's-fault status (INVALID_ARGUMENT, NOT_FOUND, RESOURCE_EXHAUSTED),
 * never INTERNAL or UNKNOWN.
 */

const RUNS = Number(process.env.RELIABILITY_HOSTILE_RUNS ?? 60);
let server: VigilProcess;
let grpcPort: number;

beforeAll(async () => {
  grpcPort = await freePort();
  server = await startVigil(['--grpc-port', String(grpcPort)]);
  await server.waitUntilReady();
});
afterAll(async () => {
  await server?.stop();
});

const MODELS = ['sentiment', 'spam', 'digits', 'air-quality', 'no-such-model'];
const path = fc.oneof(
  fc.constant('/predict'),
  fc.constantFrom(...MODELS).map((m) => `/v1/models/${m}/predict`),
  fc.constantFrom(...MODELS).map((m) => `/v1/models/${m}/versions/1/predict`),
  fc.constantFrom(...MODELS).map((m) => `/v2/models/${m}/infer`),
  fc.constantFrom(...MODELS).map((m) => `/v2/models/${m}/versions/1/infer`),
  fc.constant('/v1/feedback'),
);

const hostileString = fc.oneof(
  fc.string({ unit: 'binary' }),
  fc.string({ unit: 'grapheme', maxLength: 2000 }),
  fc.constantFrom('\u0000', '\u0007\u001b[2J', '\ud800', '\udfff', 'a\ud800b', '\u202e', '[CLS] [SEP] [PAD]', ''),
  fc.integer({ min: 1, max: 200_000 }).map((n) => 'x'.repeat(n)),
);
const hugeNumber = fc.oneof(fc.double(), fc.constantFrom(1e308, -1e308, Number.MAX_SAFE_INTEGER * 1024, 5e-324, -0), fc.bigInt().map((b) => Number(b)));
const anyValue = fc.oneof(fc.jsonValue({ maxDepth: 6 }), hostileString, hugeNumber, fc.array(hugeNumber, { maxLength: 5000 }));

/** Body shapes: structurally close to the real ones (so they get past the first check), and not. */
const body: fc.Arbitrary<string | Buffer> = fc.oneof(
  fc.record({ text: anyValue }).map((b) => JSON.stringify(b)),
  fc.record({ texts: fc.oneof(fc.array(anyValue, { maxLength: 300 }), anyValue) }).map((b) => JSON.stringify(b)),
  fc.record({ pixels: fc.oneof(fc.array(hugeNumber, { maxLength: 3000 }), fc.array(fc.array(anyValue, { maxLength: 40 }), { maxLength: 40 }), anyValue) }).map((b) => JSON.stringify(b)),
  fc.record({ image: hostileString }).map((b) => JSON.stringify(b)),
  fc.record({ features: fc.dictionary(fc.string(), anyValue) }).map((b) => JSON.stringify(b)),
  fc
    .record({
      id: anyValue,
      inputs: fc.array(
        fc.record({
          name: fc.oneof(fc.constantFrom('text', 'pixels', 'features', 'prompt'), fc.string()),
          shape: fc.oneof(fc.array(fc.oneof(fc.integer(), hugeNumber, fc.constantFrom(2 ** 31, 2 ** 53, -1, 0)), { maxLength: 8 }), anyValue),
          datatype: fc.oneof(fc.constantFrom('BYTES', 'FP32', 'INT64', 'FP16', 'BOOL'), fc.string()),
          data: fc.oneof(fc.array(anyValue, { maxLength: 50 }), anyValue),
        }),
        { maxLength: 4 },
      ),
    })
    .map((b) => JSON.stringify(b)),
  fc.record({ request_id: anyValue, label: anyValue, value: anyValue }).map((b) => JSON.stringify(b)),
  fc.jsonValue({ maxDepth: 8 }).map((v) => JSON.stringify(v)),
  fc.integer({ min: 1, max: 400_000 }).map((n) => '['.repeat(n) + ']'.repeat(n)),
  fc.integer({ min: 1, max: 100_000 }).map((n) => '{"text":'.repeat(n) + '"x"' + '}'.repeat(n)),
  fc.uint8Array({ maxLength: 5000 }).map((bytes) => Buffer.concat([Buffer.from('{"text":"'), Buffer.from(bytes), Buffer.from('"}')])),
  fc.constantFrom('{"text":"\\ud800"}', '{"text": 1e400}', '{"texts": [' + '"a",'.repeat(10_000) + '"a"]}', '{"text":"a"', '', 'null', '"text"', '{"__proto__":{"x":1},"text":"hi"}', '{"constructor":{"prototype":{}}}'),
);

describe('hostile input', () => {
  it(`${RUNS} random hostile bodies per run over every predict/infer/feedback endpoint: 4xx JSON naming the problem, never 5xx or a stack trace`, async () => {
    const statuses: Record<number, number> = {};
    await fc.assert(
      fc.asyncProperty(path, body, async (p, b) => {
        const response = await fetch(`${server.url}${p}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: b });
        const text = await response.text();
        statuses[response.status] = (statuses[response.status] ?? 0) + 1;
        // 503 only for a refusal (the door's bound under the test's own pace), never a crash.
        expect(response.status === 200 || (response.status >= 400 && response.status < 500) || (response.status === 503 && /overloaded|bound/.test(text))).toBe(true);
        expect(text).not.toMatch(/\n\s+at .+\(.+:\d+:\d+\)/);
        if (response.status !== 200) {
          const parsed = JSON.parse(text) as { error: unknown };
          const message = typeof parsed.error === 'string' ? parsed.error : (parsed.error as { message: string }).message;
          expect(typeof message).toBe('string');
          expect(message.length).toBeGreaterThan(0);
          expect(message.length).toBeLessThan(2000);
        }
      }),
      { numRuns: RUNS },
    );
    const alive = await fetch(`${server.url}/alive`);
    const errorLines = server.logs.filter((l) => l.includes('"level":"error"') || l.includes('"level":50'));
    report('hostile-input', { runs: RUNS, statuses, error_log_lines: errorLines.length });
    expect(alive.status).toBe(200);
    expect(errorLines).toEqual([]);
  });
});

// The protocol's own proto when ../shared is there (what clients are generated from), else Vigil's.
const specProto = sharedPath('docs', 'references', 'open-inference-protocol', 'open_inference_grpc.proto');
const modelInfer = (
  hasShared ? loadSync(specProto, LOADER_OPTIONS) : loadSync('inference.proto', { ...LOADER_OPTIONS, includeDirs: [PROTO_DIR] })
)['inference.GRPCInferenceService'] as unknown as { ModelInfer: { requestSerialize: (message: unknown) => Buffer } };
const serialize = (message: unknown) => modelInfer.ModelInfer.requestSerialize(message);

const le32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return b;
};
const valid = serialize({ model_name: 'sentiment', inputs: [{ name: 'text', datatype: 'BYTES', shape: [1] }], raw_input_contents: [Buffer.concat([le32(5), Buffer.from('hello')])] });
const int64 = fc.oneof(fc.integer(), fc.constantFrom(-1, 0, 2 ** 31, 2 ** 53, -(2 ** 53), 2 ** 62));
const grpcMessage: fc.Arbitrary<Buffer> = fc.oneof(
  fc.uint8Array({ maxLength: 4000 }).map((b) => Buffer.from(b)),
  fc
    .record({ at: fc.nat(), byte: fc.nat(255), cut: fc.nat() })
    .map(({ at, byte, cut }) => {
      const changed = Buffer.from(valid);
      changed[at % changed.length] = byte;
      return changed.subarray(0, Math.max(1, changed.length - (cut % 4)));
    }),
  fc
    .record({
      model_name: fc.oneof(fc.constantFrom(...MODELS), hostileString),
      inputs: fc.array(
        fc.record({
          name: fc.oneof(fc.constantFrom('text', 'pixels', 'features'), hostileString),
          datatype: fc.oneof(fc.constantFrom('BYTES', 'FP32', 'INT64', 'FP16', 'BOOL', 'UINT8'), hostileString),
          shape: fc.array(int64, { maxLength: 6 }),
          contents: fc.record(
            { fp32_contents: fc.array(fc.float(), { maxLength: 900 }), int64_contents: fc.array(fc.integer(), { maxLength: 50 }), bytes_contents: fc.array(fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)), { maxLength: 5 }) },
            { requiredKeys: [] },
          ),
        }),
        { maxLength: 3 },
      ),
      raw_input_contents: fc.array(
        fc.oneof(
          fc.uint8Array({ maxLength: 4000 }).map((b) => Buffer.from(b)),
          fc.tuple(fc.nat(), fc.uint8Array({ maxLength: 50 })).map(([n, b]) => Buffer.concat([le32(n), Buffer.from(b)])),
        ),
        { maxLength: 3 },
      ),
    })
    .map(serialize),
);

/** Status codes that put the fault with the caller (or a refusal under the test's own pace). */
const CALLERS_FAULT = new Set([0, 3, 5, 8, 14]);

describe('hostile input over gRPC', () => {
  it(`${RUNS} random hostile ModelInfer messages per run: a caller's-fault status naming the problem, never INTERNAL or UNKNOWN`, async () => {
    const channel = new GrpcWireChannel(`127.0.0.1:${grpcPort}`);
    const codes: Record<number, number> = {};
    try {
      await fc.assert(
        fc.asyncProperty(grpcMessage, async (message) => {
          const outcome = await channel.call('inference.GRPCInferenceService/ModelInfer', grpcFrame(message));
          codes[outcome.code ?? -1] = (codes[outcome.code ?? -1] ?? 0) + 1;
          expect(outcome.code !== undefined && CALLERS_FAULT.has(outcome.code), `status ${outcome.code}: ${outcome.details}`).toBe(true);
          if (outcome.code === 14) expect(outcome.details).toMatch(/overloaded|bound|in flight/i);
          if (outcome.code !== 0) {
            expect(outcome.details?.length ?? 0).toBeGreaterThan(0);
            expect(outcome.details?.length ?? 0).toBeLessThan(2000);
            expect(outcome.details).not.toMatch(/\n\s+at .+\(.+:\d+:\d+\)/);
          }
        }),
        { numRuns: RUNS },
      );
    } finally {
      channel.close();
    }
    const alive = await fetch(`${server.url}/alive`);
    const errorLines = server.logs.filter((l) => l.includes('"level":"error"') || l.includes('"level":50'));
    report('hostile-input-grpc', { runs: RUNS, codes, error_log_lines: errorLines.length });
    expect(alive.status).toBe(200);
    expect(errorLines).toEqual([]);
  });
});
