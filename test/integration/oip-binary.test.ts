import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startVigil, type VigilProcess } from '../helpers/server.js';

/**
 * Triton's binary tensor data extension on OIP REST, with bodies built by hand from the
 * extension's description (a JSON header whose byte length is in Inference-Header-Content-Length,
 * then each binary tensor's little-endian bytes in input order), against the real server: the
 * answers equal the JSON ones, binary outputs come back when asked for, per output or for all.
 */

let server: VigilProcess;

beforeAll(async () => {
  server = await startVigil(['--no-embedded', '--model', 'models/digits', '--model', 'models/sentiment']);
  await server.waitUntilReady();
});

afterAll(async () => {
  await server?.stop();
});

const pixels = Array.from({ length: 784 }, (_, i) => (i % 28 >= 12 && i % 28 <= 15 && i > 120 && i < 660 ? 1 : 0));

function floats(values: number[]): Buffer {
  const out = Buffer.alloc(values.length * 4);
  values.forEach((v, i) => out.writeFloatLE(v, i * 4));
  return out;
}

async function binaryPost(path: string, head: unknown, parts: Buffer[]): Promise<{ status: number; headers: Headers; body: Buffer }> {
  const json = Buffer.from(JSON.stringify(head));
  const response = await fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: { 'inference-header-content-length': String(json.length) },
    body: Buffer.concat([json, ...parts]),
  });
  return { status: response.status, headers: response.headers, body: Buffer.from(await response.arrayBuffer()) };
}

/** Splits a binary answer into its JSON header and each binary output's bytes, by binary_data_size. */
function readBinaryAnswer(answer: { headers: Headers; body: Buffer }): { head: any; parts: Map<string, Buffer> } {
  const length = Number(answer.headers.get('inference-header-content-length'));
  const head = JSON.parse(answer.body.subarray(0, length).toString('utf8'));
  const parts = new Map<string, Buffer>();
  let at = length;
  for (const output of head.outputs) {
    const size = output.parameters?.binary_data_size;
    if (size === undefined) continue;
    parts.set(output.name, answer.body.subarray(at, at + size));
    at += size;
  }
  expect(at).toBe(answer.body.length);
  return { head, parts };
}

async function jsonInfer(model: string, body: unknown): Promise<any> {
  const response = await fetch(`${server.url}/v2/models/${model}/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  expect(response.status).toBe(200);
  return response.json();
}

describe('binary tensor extension', () => {
  it('a binary FP32 image in, JSON out: the same answer as JSON tensors', async () => {
    const answer = await binaryPost('/v2/models/digits/infer', { inputs: [{ name: 'pixels', datatype: 'FP32', shape: [1, 784], parameters: { binary_data_size: 784 * 4 } }] }, [floats(pixels)]);
    expect(answer.status, answer.body.toString()).toBe(200);
    expect(answer.headers.get('inference-header-content-length')).toBeNull();
    const json = await jsonInfer('digits', { inputs: [{ name: 'pixels', datatype: 'FP32', shape: [1, 784], data: pixels }] });
    expect(JSON.parse(answer.body.toString())).toEqual(json);
  });

  it('binary in, binary out for the output that asks (binary_data: true), JSON for the other', async () => {
    const answer = await binaryPost(
      '/v2/models/digits/infer',
      {
        id: 'b1',
        inputs: [{ name: 'pixels', datatype: 'FP32', shape: [2, 784], parameters: { binary_data_size: 2 * 784 * 4 } }],
        outputs: [{ name: 'probabilities', parameters: { binary_data: true } }, { name: 'label', parameters: { binary_data: false } }],
      },
      [floats([...pixels, ...pixels.map((v) => 1 - v)])],
    );
    expect(answer.status, answer.body.toString()).toBe(200);
    expect(answer.headers.get('content-type')).toBe('application/octet-stream');
    const { head, parts } = readBinaryAnswer(answer);
    expect(head).toMatchObject({ model_name: 'digits', id: 'b1' });
    expect(head.outputs[0]).toEqual({ name: 'probabilities', datatype: 'FP32', shape: [2, 10], parameters: { binary_data_size: 80 } });
    const json = await jsonInfer('digits', { inputs: [{ name: 'pixels', datatype: 'FP32', shape: [2, 784], data: [...pixels, ...pixels.map((v) => 1 - v)] }] });
    expect(head.outputs[1]).toEqual(json.outputs[0]);
    const probabilities = parts.get('probabilities')!;
    expect(Array.from({ length: 20 }, (_, i) => probabilities.readFloatLE(i * 4))).toEqual(json.outputs[1].data.map((v: number) => Math.fround(v)));
  });

  it('BYTES in binary form (4-byte LE length prefix) and binary_data_output for every output', async () => {
    const texts = ['I love it', 'I hate it'];
    const raw = Buffer.concat(texts.flatMap((t) => [Buffer.from([t.length, 0, 0, 0]), Buffer.from(t)]));
    const answer = await binaryPost('/v2/models/sentiment/infer', { parameters: { binary_data_output: true }, inputs: [{ name: 'text', datatype: 'BYTES', shape: [2], parameters: { binary_data_size: raw.length } }] }, [raw]);
    expect(answer.status, answer.body.toString()).toBe(200);
    const { parts } = readBinaryAnswer(answer);
    const labels = parts.get('label')!;
    const first = labels.readUInt32LE(0);
    expect(labels.subarray(4, 4 + first).toString()).toBe('POSITIVE');
    expect(labels.subarray(8 + first).toString()).toBe('NEGATIVE');
    expect(parts.get('probabilities')!.length).toBe(2 * 2 * 4);
  });

  it('bytes that do not add up: 400 naming the input', async () => {
    const short = await binaryPost('/v2/models/digits/infer', { inputs: [{ name: 'pixels', datatype: 'FP32', shape: [1, 784], parameters: { binary_data_size: 12 } }] }, [floats([0, 0, 0])]);
    expect(short.status).toBe(400);
    expect(JSON.parse(short.body.toString()).error).toMatch(/input "pixels": the shape holds 784 FP32 elements \(3136 bytes\) but the raw contents have 12 bytes/);
    const extra = await binaryPost('/v2/models/digits/infer', { inputs: [{ name: 'pixels', datatype: 'FP32', shape: [1, 784], parameters: { binary_data_size: 3136 } }] }, [floats(pixels), Buffer.from([1, 2])]);
    expect(extra.status).toBe(400);
    expect(JSON.parse(extra.body.toString()).error).toMatch(/2 bytes after the JSON header/);
  });
});
