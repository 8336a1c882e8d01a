/**
 * The alternative a TypeScript user would write for an image or tabular model without Vigil:
 * fastify plus one onnxruntime-node session with its default options, called once per request
 * on the server thread. No batching, no metrics, no logs. It reads the same model folder Vigil
 * serves (vigil.model.json for the labels and the feature order) and takes the same bodies:
 *
 *   {"pixels": [784 numbers]}        image classification (digits)
 *   {"features": {"<name>": number}} tabular regression (air-quality; the graph standardises)
 *
 *   node alternative-onnx-server.js <model version folder> [port]     prints `LISTENING <url>`
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import Fastify from 'fastify';
import { listenForBench, runBenchHelper } from './helper-listen.js';
import type * as Ort from 'onnxruntime-node';

const ort = createRequire(import.meta.url)('onnxruntime-node') as typeof Ort;

interface Spec {
  task: string;
  labels?: string[];
  onnx: { file: string };
  preprocessing?: { features?: { name: string }[] };
}

function softmax(logits: Float32Array): number[] {
  const max = Math.max(...logits);
  const exps = Array.from(logits, (v) => Math.exp(v - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((v) => v / sum);
}

async function main(): Promise<void> {
  const [folder, port = '0'] = process.argv.slice(2);
  if (!folder) throw new Error('usage: alternative-onnx-server.js <model version folder> [port]');
  const spec = JSON.parse(readFileSync(path.join(folder, 'vigil.model.json'), 'utf8')) as Spec;
  const session = await ort.InferenceSession.create(path.join(folder, spec.onnx.file));
  const [inputName] = session.inputNames;
  const [outputName] = session.outputNames;
  const featureNames = (spec.preprocessing?.features ?? []).map((f) => f.name);

  const app = Fastify();
  app.get('/ready', async () => ({ ready: true }));
  app.post<{ Body: { pixels?: unknown; features?: Record<string, unknown> } }>('/predict', async (request, reply) => {
    if (spec.task === 'image-classification') {
      const pixels = request.body?.pixels;
      if (!Array.isArray(pixels) || pixels.length !== 784) return reply.code(400).send({ error: 'pixels must be 784 numbers' });
      const outputs = await session.run({ [inputName!]: new ort.Tensor('float32', Float32Array.from(pixels as number[]), [1, 784]) });
      const scores = softmax(outputs[outputName!]!.data as Float32Array);
      const best = scores.indexOf(Math.max(...scores));
      return { label: spec.labels?.[best] ?? String(best), score: scores[best] };
    }
    const features = request.body?.features;
    if (typeof features !== 'object' || features === null) return reply.code(400).send({ error: 'features must be an object' });
    const row = Float32Array.from(featureNames, (name) => Number(features[name]));
    if (row.some((v) => !Number.isFinite(v))) return reply.code(400).send({ error: `features must hold ${featureNames.join(', ')}` });
    const outputs = await session.run({ [inputName!]: new ort.Tensor('float32', row, [1, row.length]) });
    return { prediction: (outputs[outputName!]!.data as Float32Array)[0] };
  });
  await listenForBench(app, port);
}

runBenchHelper(main);
