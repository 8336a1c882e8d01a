import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postJson, REPO_ROOT, startVigil, type VigilProcess } from '../helpers/server.js';
import { hasShared, requireShared, sharedPath } from '../helpers/shared.js';

/**
 * `--low-memory` changes how onnxruntime keeps the weights (no pre-packed copy), not what the
 * models answer: the same texts through a server with and one without it get the same scores.
 * How much memory it saves and what it costs in speed is measured by the benchmarks
 * (docs/performance.md), not here.
 */
const withDistilbert = hasShared && requireShared('models/distilbert-arch-random/onnx/model_quantized.onnx', 'DistilBERT under --low-memory');
const models = ['--no-embedded', '--model', path.join(REPO_ROOT, 'models', 'sentiment'), '--model', path.join(REPO_ROOT, 'models', 'spam')];
if (withDistilbert) models.push('--model', sharedPath('models', 'distilbert-arch-random'));
const names = ['sentiment', 'spam', ...(withDistilbert ? ['distilbert-arch-random'] : [])];
const texts = ['I am so happy today!', 'This is the worst day ever.', 'WIN a FREE cruise, reply now to claim your prize', 'meeting moved to 3pm, see agenda attached'];

let standard: VigilProcess;
let lowMemory: VigilProcess;

beforeAll(async () => {
  standard = await startVigil(models);
  lowMemory = await startVigil([...models, '--low-memory']);
  await Promise.all([standard.waitUntilReady(), lowMemory.waitUntilReady()]);
});

afterAll(async () => {
  await Promise.all([standard?.stop(), lowMemory?.stop()]);
});

describe('vigil serve --low-memory', () => {
  for (const name of names) {
    it(`${name}: the same labels and scores as without it`, async () => {
      const predict = async (server: VigilProcess) => {
        const r = await postJson(`${server.url}/v1/models/${name}/predict`, { texts });
        expect(r.status, r.text).toBe(200);
        return r.body.predictions as { label: string; scores: Record<string, number> }[];
      };
      const [expected, got] = await Promise.all([predict(standard), predict(lowMemory)]);
      expect(got.map((p) => p.label)).toEqual(expected.map((p) => p.label));
      got.forEach((p, i) => {
        for (const [label, score] of Object.entries(expected[i]!.scores)) expect(p.scores[label]).toBeCloseTo(score, 5);
      });
    });
  }
});
