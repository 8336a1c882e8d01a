import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadMnist, PIXELS, splitDigits } from '../../src/training/data/mnist.js';
import { loadSst2 } from '../../src/training/data/sst2.js';
import { Rng } from '../../src/training/rng.js';
import { splitOptions } from '../../src/training/sentiment.js';
import { postJson, REPO_ROOT, startVigil, type VigilProcess } from '../helpers/server.js';
import { requireShared, sharedPath } from '../helpers/shared.js';

/**
 * Drift end to end: the real CLI with the embedded sentiment and air-quality models and a
 * 200-input drift window. Sentences like the held-out ones the reference was computed on keep
 * PSI small; long texts of words the model never saw push tokenCount and unknownTokenRate far
 * past the 0.2 threshold; so do air-quality rows from a heat wave for T.
 */

const WINDOW = 200;
const THRESHOLD = 0.2;
const withSst2 = requireShared('data/sst2/train.tsv', 'in-distribution drift check on the held-out SST-2 sentences');

let server: VigilProcess;

beforeAll(async () => {
  server = await startVigil([
    '--no-embedded',
    '--model', path.join(REPO_ROOT, 'models', 'sentiment'),
    '--model', path.join(REPO_ROOT, 'models', 'air-quality'),
    '--model', path.join(REPO_ROOT, 'models', 'digits'),
    '--drift-window', String(WINDOW),
    '--max-batch-inputs', '50',
  ]);
  await server.waitUntilReady();
});

afterAll(async () => {
  await server?.stop();
});

async function psi(model: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const out: Record<string, number> = {};
  const re = new RegExp(`^vigil_drift_psi\\{model="${model}",version="1",feature="([^"]+)"\\} (\\S+)$`, 'gm');
  for (const m of text.matchAll(re)) out[m[1]!] = Number(m[2]);
  return out;
}

async function windowSize(model: string): Promise<number | undefined> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const m = new RegExp(`^vigil_drift_window_size\\{model="${model}",version="1"\\} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
}

async function predictTexts(texts: string[]): Promise<void> {
  for (let i = 0; i < texts.length; i += 50) {
    const answer = await postJson(`${server.url}/v1/models/sentiment/predict`, { texts: texts.slice(i, i + 50) });
    expect(answer.status).toBe(200);
  }
}

/** A word the sentiment vocabulary cannot hold: letters drawn from a fixed pseudo-random sequence. */
function madeUpWord(i: number): string {
  let x = (i + 1) * 2654435761;
  let word = 'q';
  for (let k = 0; k < 9; k++) {
    x = (x * 1103515245 + 12345) >>> 0;
    word += String.fromCharCode(97 + (x % 26));
  }
  return word;
}

describe('drift (PSI against the spec reference)', () => {
  it.runIf(withSst2)('held-out-like sentences keep every PSI small', async () => {
    // The held-out sentences the reference was computed on: step 1 of splitSst2 (seeded draw among
    // rows with >= minTokens tokens), without its slow leak filtering of the training rows.
    const rows = loadSst2(sharedPath('data', 'sst2', 'train.tsv'));
    const { seed, minTokens } = splitOptions(42);
    const candidates = rows.map((_, i) => i).filter((i) => rows[i]!.text.split(' ').filter(Boolean).length >= minTokens);
    new Rng(seed).shuffle(candidates);
    const texts = candidates.slice(0, WINDOW).map((i) => rows[i]!.text);
    await predictTexts(texts.slice(0, 50));
    // Not enough inputs yet: no PSI at all, so nothing can alert on 50 requests.
    expect(await windowSize('sentiment')).toBe(50);
    expect(await psi('sentiment')).toEqual({});
    await predictTexts(texts.slice(50));
    const scores = await psi('sentiment');
    expect(Object.keys(scores).sort()).toEqual(['confidence', 'prediction', 'tokenCount', 'unknownTokenRate']);
    // 200 samples over 7-9 bins: sampling noise alone gives a few hundredths.
    expect(scores.tokenCount).toBeLessThan(0.1);
    expect(scores.unknownTokenRate).toBeLessThan(0.1);
    expect(scores.prediction).toBeLessThan(0.1);
    expect(scores.confidence).toBeLessThan(THRESHOLD);
  });

  it('long texts of unknown words push tokenCount and unknownTokenRate over the threshold', async () => {
    const texts = Array.from({ length: WINDOW }, (_, i) =>
      Array.from({ length: 140 }, (_, k) => (k % 4 === 0 ? 'the' : madeUpWord(i * 1000 + k))).join(' '),
    );
    await predictTexts(texts);
    expect(await windowSize('sentiment')).toBe(WINDOW);
    const scores = await psi('sentiment');
    expect(scores.tokenCount).toBeGreaterThan(THRESHOLD);
    expect(scores.unknownTokenRate).toBeGreaterThan(THRESHOLD);
    // Every text is cut to 128 tokens: all in the last tokenCount bin, whose reference share is 0 (floored at 1e-4).
    expect(scores.tokenCount).toBeGreaterThan(5);
  });

  it('tabular inputs: a heat wave shows in the T feature only', async () => {
    const row = (i: number) => ({
      'PT08.S1(CO)': 1000 + (i % 10) * 20, 'PT08.S2(NMHC)': 900 + (i % 7) * 30, 'PT08.S3(NOx)': 800, 'PT08.S4(NO2)': 1500,
      'PT08.S5(O3)': 1000, T: 42 + (i % 3), RH: 40, AH: 0.6, hour: i % 24, dayOfWeek: i % 7,
    });
    for (let i = 0; i < 100; i += 50) {
      const answer = await postJson(`${server.url}/v1/models/air-quality/predict`, { rows: Array.from({ length: 50 }, (_, k) => row(i + k)) });
      expect(answer.status).toBe(200);
    }
    const scores = await psi('air-quality');
    expect(Object.keys(scores)).toEqual(expect.arrayContaining(['T', 'RH', 'hour', 'prediction']));
    expect(scores.T).toBeGreaterThan(THRESHOLD);
    // hour and dayOfWeek cycle evenly, as in the reference: no drift there.
    expect(scores.hour).toBeLessThan(0.1);
  });

  it('images: held-out MNIST digits keep meanIntensity/inkFraction PSI small; heavy strokes push them over', async () => {
    const set = loadMnist();
    // Every 10th held-out image: 200 of the 2000 the reference was computed on, all ten digits.
    const test = splitDigits(set, 0.2, 42).test.filter((_, k) => k % 10 === 0);
    const image = (j: number) => Array.from(set.x.subarray(j * PIXELS, (j + 1) * PIXELS), (v) => Math.round(v * 1000) / 1000);
    const send = async (images: number[][]) => {
      for (let i = 0; i < images.length; i += 50) {
        const answer = await postJson(`${server.url}/v1/models/digits/predict`, { inputs: images.slice(i, i + 50).map((pixels) => ({ pixels })) });
        expect(answer.status).toBe(200);
      }
    };
    await send(test.map(image));
    const near = await psi('digits');
    expect(Object.keys(near).sort()).toEqual(['confidence', 'inkFraction', 'meanIntensity', 'prediction']);
    expect(near.meanIntensity).toBeLessThan(0.1);
    expect(near.inkFraction).toBeLessThan(0.1);
    expect(near.prediction).toBeLessThan(0.1);
    // A thick bar across the middle third: far more ink than any held-out digit.
    const heavy = Array.from({ length: WINDOW }, (_, i) => Array.from({ length: PIXELS }, (_, p) => (Math.floor(p / 28) >= 9 && Math.floor(p / 28) < 19 && (p + i) % 28 > 3 ? 1 : 0)));
    await send(heavy);
    const far = await psi('digits');
    expect(far.meanIntensity).toBeGreaterThan(THRESHOLD);
    expect(far.inkFraction).toBeGreaterThan(THRESHOLD);
  });
});
