/**
 * The alternative a TypeScript user would write without Vigil: fastify plus a transformers.js
 * `pipeline('text-classification')`, called once per request. Local files only.
 *
 *   node alternative-server.js <model folder (HF layout)> <dtype: q8 | fp32> [port]
 *
 * Prints `LISTENING <url>` once the pipeline is loaded; /ready answers 200 from then on.
 */
import path from 'node:path';
import Fastify from 'fastify';
import { listenForBench, runBenchHelper } from './helper-listen.js';
import { env, pipeline } from '@huggingface/transformers';

async function main(): Promise<void> {
  const [folder, dtype = 'q8', port = '0'] = process.argv.slice(2);
  if (!folder) throw new Error('usage: alternative-server.js <model folder> [dtype] [port]');
  env.allowRemoteModels = false;
  env.localModelPath = path.dirname(path.resolve(folder));
  const classify = await pipeline('text-classification', path.basename(folder), { dtype: dtype as 'q8' | 'fp32' });
  const app = Fastify();
  app.get('/ready', async () => ({ ready: true }));
  app.post<{ Body: { text?: unknown } }>('/predict', async (request, reply) => {
    const text = request.body?.text;
    if (typeof text !== 'string' || text === '') return reply.code(400).send({ error: 'text must be a non-empty string' });
    const [top] = (await classify(text)) as { label: string; score: number }[];
    return top;
  });
  await listenForBench(app, port);
}

runBenchHelper(main);
