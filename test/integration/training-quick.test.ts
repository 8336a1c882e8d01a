import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { run as trainCli } from '../../src/cli/train.js';
import { run as evalCli } from '../../src/cli/eval.js';
import { parseSpec } from '../../src/models/spec.js';
import { loadSst2, splitSst2 } from '../../src/training/data/sst2.js';
import { loadTokenizer } from '../../src/training/tokenizer.js';
import { hasShared, sharedDir } from '../helpers/shared.js';

/**
 * `vigil train <model> --quick` end to end through the CLI: the folder it writes loads, its ONNX
 * graph has the promised interface, `vigil eval` on it agrees with its spec, and the accuracy is sane.
 */

const root = mkdtempSync(path.join(tmpdir(), 'vigil-train-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

if (!hasShared) console.warn(`[skipped] quick training of sentiment and air-quality: ${sharedDir} is not present (it ships with CI, not with the repository)`);

async function quickTrain(name: string): Promise<{ dir: string; spec: ReturnType<typeof parseSpec> }> {
  const dir = path.join(root, name);
  const log = vi.spyOn(console, 'log').mockImplementation(() => {});
  try {
    expect(await trainCli([name, '--quick', '--out', dir])).toBe(0);
  } finally {
    log.mockRestore();
  }
  const spec = parseSpec(JSON.parse(readFileSync(path.join(dir, 'vigil.model.json'), 'utf8')), name);
  expect(existsSync(path.join(dir, 'MODEL_CARD.md'))).toBe(true);
  return { dir, spec };
}

async function evalJson(dir: string): Promise<{ ok: boolean; metrics: Array<{ metric: string; value: number; recorded: number }> }> {
  const lines: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((s: string) => void lines.push(s));
  const err = vi.spyOn(console, 'error').mockImplementation(() => {});
  try {
    expect(await evalCli([dir, '--json'])).toBe(0);
  } finally {
    log.mockRestore();
    err.mockRestore();
  }
  return JSON.parse(lines.join('\n'));
}

async function ioNames(file: string): Promise<[readonly string[], readonly string[]]> {
  const s = await ort.InferenceSession.create(file);
  const names: [readonly string[], readonly string[]] = [s.inputNames, s.outputNames];
  await s.release();
  return names;
}

describe('vigil train --quick (npm-packaged data)', () => {
  it('spam: writes a loadable text classifier that eval confirms', async () => {
    const { dir, spec } = await quickTrain('spam');
    expect(spec.labels).toEqual(['ham', 'spam']);
    expect(await ioNames(path.join(dir, 'model.onnx'))).toEqual([['input_ids', 'attention_mask'], ['logits']]);
    const ev = await evalJson(dir);
    expect(ev.ok).toBe(true);
    expect(ev.metrics.find((m) => m.metric === 'accuracy')!.value).toBeGreaterThan(0.85);
  });

  it('digits: writes a loadable image classifier that eval confirms', async () => {
    const { dir, spec } = await quickTrain('digits');
    expect(spec.task).toBe('image-classification');
    expect(await ioNames(path.join(dir, 'model.onnx'))).toEqual([['pixels'], ['logits']]);
    const ev = await evalJson(dir);
    expect(ev.ok).toBe(true);
    expect(ev.metrics.find((m) => m.metric === 'accuracy')!.value).toBeGreaterThan(0.8);
  });
});

describe.skipIf(!hasShared)('vigil train --quick (shared data)', () => {
  it('sentiment: tokenizer loads via AutoTokenizer, ids match the trainer, eval confirms the spec', async () => {
    const { dir, spec } = await quickTrain('sentiment');
    expect(spec.labels).toEqual(['NEGATIVE', 'POSITIVE']);
    expect(spec.preprocessing).toMatchObject({ tokenizer: '.', maxLength: 128 });
    expect(await ioNames(path.join(dir, 'model.onnx'))).toEqual([['input_ids', 'attention_mask'], ['logits']]);
    // The server-side load path gives the ids the trainer trained on.
    const { AutoTokenizer, env } = await import('@huggingface/transformers');
    env.allowRemoteModels = false;
    env.localModelPath = path.dirname(dir) + '/';
    const hf = await AutoTokenizer.from_pretrained(path.basename(dir));
    const mine = await loadTokenizer(dir, 128);
    const split = splitSst2(loadSst2(path.join(sharedDir, 'data', 'sst2', 'train.tsv')), { seed: 42, testSize: 300, minTokens: 10 });
    for (const r of split.test.slice(0, 50)) {
      expect(mine.encode(r.text)).toEqual((hf(r.text, { truncation: true, max_length: 128, return_tensor: false }) as { input_ids: number[] }).input_ids);
    }
    const ev = await evalJson(dir);
    expect(ev.ok).toBe(true);
    expect(ev.metrics.find((m) => m.metric === 'accuracy')!.value).toBeGreaterThan(0.7);
  });

  it('air-quality: writes a regressor that beats the training-mean baseline', async () => {
    const { dir, spec } = await quickTrain('air-quality');
    expect(await ioNames(path.join(dir, 'model.onnx'))).toEqual([['features'], ['prediction']]);
    const ev = await evalJson(dir);
    expect(ev.ok).toBe(true);
    const baseline = (spec.evaluation as { baselines: { trainingMean: { metrics: { mae: number } } } }).baselines.trainingMean.metrics.mae;
    expect(ev.metrics.find((m) => m.metric === 'mae')!.value).toBeLessThan(baseline * 0.6);
    expect(statSync(path.join(dir, 'model.onnx')).size).toBeLessThan(1e6);
  });
});

describe('vigil train / eval arguments', () => {
  it('print help and reject unknown models', async () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    const err = vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      expect(await trainCli(['--help'])).toBe(0);
      expect(await evalCli(['--help'])).toBe(0);
      expect(await trainCli(['no-such-model'])).toBe(2);
      expect(await trainCli(['spam', '--seed', 'x'])).toBe(2);
      expect(await evalCli([path.join(root, 'nothing-here')])).toBe(2);
    } finally {
      log.mockRestore();
      err.mockRestore();
    }
  });
});
