import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { parseSpec, SPEC_FILE } from '../../src/models/spec.js';
import { TRAINERS } from '../../src/training/index.js';
import { loadTokenizer } from '../../src/training/tokenizer.js';
import { REPO_ROOT } from '../helpers/server.js';
import { hasShared, sharedDir } from '../helpers/shared.js';

/**
 * The embedded models committed under models/<name>/1: complete, small, with the interface their
 * spec declares, and still scoring what their spec recorded (recomputed on the held-out split).
 */

const TEXT_FILES = ['model.onnx', 'tokenizer.json', 'tokenizer_config.json', SPEC_FILE, 'MODEL_CARD.md'];
const MODELS: Array<{ name: string; version: string; needsShared: boolean; files: string[] }> = [
  { name: 'sentiment', version: '1', needsShared: true, files: TEXT_FILES },
  { name: 'spam', version: '1', needsShared: false, files: TEXT_FILES },
  { name: 'spam', version: '2', needsShared: false, files: TEXT_FILES },
  { name: 'digits', version: '1', needsShared: false, files: ['model.onnx', SPEC_FILE, 'MODEL_CARD.md'] },
  { name: 'air-quality', version: '1', needsShared: true, files: ['model.onnx', SPEC_FILE, 'MODEL_CARD.md'] },
];

for (const m of MODELS) {
  const dirOf = (_name: string) => path.join(REPO_ROOT, 'models', m.name, m.version);
  const specOf = (name: string) => parseSpec(JSON.parse(readFileSync(path.join(dirOf(name), SPEC_FILE), 'utf8')), name);
  describe(`models/${m.name}/${m.version}`, () => {
    it('holds its files, stays well under 10 MB, and declares the graph it ships', async () => {
      const dir = dirOf(m.name);
      expect(readdirSync(dir).sort()).toEqual([...m.files].sort());
      const bytes = m.files.reduce((s, f) => s + statSync(path.join(dir, f)).size, 0);
      expect(bytes).toBeLessThan(5 * 2 ** 20);
      const spec = specOf(m.name);
      expect(spec).toMatchObject({ name: m.name, version: m.version, runtime: 'onnx', onnx: { file: 'model.onnx' } });
      for (const key of ['inputs', 'outputs', 'quality', 'evaluation', 'reference', 'provenance', 'training'] as const) expect(spec[key], key).toBeDefined();
      const session = await ort.InferenceSession.create(path.join(dir, 'model.onnx'));
      expect(session.inputNames).toEqual(spec.inputs!.map((i) => i.name));
      expect(session.outputNames).toEqual(spec.outputs!.map((o) => o.name));
      await session.release();
      // Reference histograms are well formed (the server computes PSI from them).
      const walk = (o: unknown): void => {
        if (!o || typeof o !== 'object') return;
        const h = o as { edges?: number[]; counts?: number[]; proportions?: number[] };
        if (Array.isArray(h.edges)) {
          expect(h.counts!.length).toBe(h.edges.length - 1);
          expect(h.proportions!.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 3);
          for (let i = 1; i < h.edges.length; i++) expect(h.edges[i]!).toBeGreaterThan(h.edges[i - 1]!);
        } else Object.values(o).forEach(walk);
      };
      walk(spec.reference);
    });

    if (m.files.includes('tokenizer.json')) {
      it('ships a tokenizer that loads with AutoTokenizer', async () => {
        const spec = specOf(m.name);
        const pre = spec.preprocessing as { tokenizer: string; maxLength: number };
        const tok = await loadTokenizer(path.join(dirOf(m.name), pre.tokenizer), pre.maxLength);
        const ids = tok.encode('A perfectly ordinary sentence.');
        expect(ids.length).toBeGreaterThan(3);
        expect(Math.max(...ids)).toBeLessThan(tok.vocabSize);
      });
    }

    const skip = m.needsShared && !hasShared;
    if (skip) console.warn(`[skipped] eval of the committed ${m.name} model: ${sharedDir} is not present (it ships with CI, not with the repository)`);
    it.skipIf(skip)('still meets the metrics recorded in its spec on the recomputed held-out split', async () => {
      const trainer = await TRAINERS[m.name]!.load();
      const result = await trainer.evaluate(dirOf(m.name), { log: () => {} });
      for (const [metric, recorded] of Object.entries(result.recorded)) {
        expect(Math.abs(result.metrics[metric]! - recorded), metric).toBeLessThanOrEqual(result.tolerance + 1e-12);
      }
      expect(result.n).toBe((specOf(m.name).evaluation as { n: number }).n);
    });
  });
}
