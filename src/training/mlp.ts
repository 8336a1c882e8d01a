import { Rng } from './rng.js';

/** A small dense network (ReLU hidden layers, linear output) trained with Adam on mean squared error. */
export interface MlpOptions {
  epochs: number;
  batchSize: number;
  lr: number;
  weightDecay: number;
  seed: number;
  onEpoch?: (epoch: number, loss: number) => void;
}

export class Mlp {
  /** weights[l]: [in, out] row-major; biases[l]: [out] */
  readonly weights: Float32Array[] = [];
  readonly biases: Float32Array[] = [];

  constructor(readonly sizes: number[], seed: number) {
    const rng = new Rng(seed);
    for (let l = 0; l + 1 < sizes.length; l++) {
      const fanIn = sizes[l]!;
      const w = new Float32Array(fanIn * sizes[l + 1]!);
      const s = Math.sqrt(2 / fanIn);
      for (let i = 0; i < w.length; i++) w[i] = rng.normal() * s * (l + 2 === sizes.length ? 0.5 : 1);
      this.weights.push(w);
      this.biases.push(new Float32Array(sizes[l + 1]!));
    }
  }

  get parameterCount(): number {
    return this.weights.reduce((s, w, l) => s + w.length + this.biases[l]!.length, 0);
  }

  /** Activations of every layer for one input (acts[0] = input). */
  private forwardAll(x: ArrayLike<number>, acts: Float32Array[]): void {
    acts[0]!.set(x as ArrayLike<number>);
    const L = this.weights.length;
    for (let l = 0; l < L; l++) {
      const a = acts[l]!;
      const z = acts[l + 1]!;
      const nIn = this.sizes[l]!;
      const nOut = this.sizes[l + 1]!;
      const w = this.weights[l]!;
      z.set(this.biases[l]!);
      for (let i = 0; i < nIn; i++) {
        const v = a[i]!;
        if (v === 0) continue;
        for (let o = 0; o < nOut; o++) z[o]! += v * w[i * nOut + o]!;
      }
      if (l + 1 < L) for (let o = 0; o < nOut; o++) if (z[o]! < 0) z[o] = 0;
    }
  }

  predict(x: Float32Array): Float32Array[] {
    const nIn = this.sizes[0]!;
    const acts = this.sizes.map((s) => new Float32Array(s));
    const out: Float32Array[] = [];
    for (let i = 0; i < x.length / nIn; i++) {
      this.forwardAll(x.subarray(i * nIn, (i + 1) * nIn), acts);
      out.push(Float32Array.from(acts[acts.length - 1]!));
    }
    return out;
  }

  /** Mean squared error regression (y: n x outputs). */
  train(x: Float32Array, y: Float32Array, opts: MlpOptions): void {
    const nIn = this.sizes[0]!;
    const nOut = this.sizes[this.sizes.length - 1]!;
    const n = x.length / nIn;
    const L = this.weights.length;
    const rng = new Rng(opts.seed);
    const acts = this.sizes.map((s) => new Float32Array(s));
    const deltas = this.sizes.map((s) => new Float32Array(s));
    const gw = this.weights.map((w) => new Float32Array(w.length));
    const gb = this.biases.map((b) => new Float32Array(b.length));
    const m1 = [...this.weights, ...this.biases].map((p) => new Float32Array(p.length));
    const m2 = [...this.weights, ...this.biases].map((p) => new Float32Array(p.length));
    const b1 = 0.9;
    const b2 = 0.999;
    let t = 0;
    for (let epoch = 0; epoch < opts.epochs; epoch++) {
      const order = rng.permutation(n);
      let loss = 0;
      for (let s = 0; s < n; s += opts.batchSize) {
        const end = Math.min(n, s + opts.batchSize);
        gw.forEach((g) => g.fill(0));
        gb.forEach((g) => g.fill(0));
        for (let k = s; k < end; k++) {
          const i = order[k]!;
          this.forwardAll(x.subarray(i * nIn, (i + 1) * nIn), acts);
          const out = acts[L]!;
          const dOut = deltas[L]!;
          for (let o = 0; o < nOut; o++) {
            const e = out[o]! - y[i * nOut + o]!;
            loss += e * e;
            dOut[o] = 2 * e;
          }
          for (let l = L - 1; l >= 0; l--) {
            const a = acts[l]!;
            const d = deltas[l + 1]!;
            const w = this.weights[l]!;
            const nI = this.sizes[l]!;
            const nO = this.sizes[l + 1]!;
            const g = gw[l]!;
            for (let o = 0; o < nO; o++) gb[l]![o]! += d[o]!;
            const dPrev = deltas[l]!;
            for (let ii = 0; ii < nI; ii++) {
              const v = a[ii]!;
              let sum = 0;
              for (let o = 0; o < nO; o++) {
                g[ii * nO + o]! += v * d[o]!;
                sum += w[ii * nO + o]! * d[o]!;
              }
              dPrev[ii] = l > 0 && v <= 0 ? 0 : sum;
            }
          }
        }
        t++;
        const inv = 1 / (end - s);
        const lr = opts.lr * Math.sqrt(1 - b2 ** t) / (1 - b1 ** t);
        const params = [...this.weights, ...this.biases];
        const grads = [...gw, ...gb];
        params.forEach((p, pi) => {
          const g = grads[pi]!;
          const mm = m1[pi]!;
          const vv = m2[pi]!;
          const wd = pi < L ? opts.weightDecay : 0;
          for (let j = 0; j < p.length; j++) {
            const gj = g[j]! * inv + wd * p[j]!;
            mm[j] = b1 * mm[j]! + (1 - b1) * gj;
            vv[j] = b2 * vv[j]! + (1 - b2) * gj * gj;
            p[j]! -= (lr * mm[j]!) / (Math.sqrt(vv[j]!) + 1e-8);
          }
        });
      }
      opts.onEpoch?.(epoch + 1, loss / n);
    }
  }
}

/** Ridge regression (one output) by the normal equations; the intercept is not penalised. Returns [weights, intercept]. */
export function ridge(x: Float32Array, y: Float32Array, features: number, lambda: number): { w: Float64Array; b: number } {
  const n = y.length;
  const d = features + 1;
  const A = new Float64Array(d * d);
  const r = new Float64Array(d);
  const row = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < features; j++) row[j] = x[i * features + j]!;
    row[features] = 1;
    for (let a = 0; a < d; a++) {
      r[a]! += row[a]! * y[i]!;
      for (let b = 0; b < d; b++) A[a * d + b]! += row[a]! * row[b]!;
    }
  }
  for (let j = 0; j < features; j++) A[j * d + j]! += lambda * n;
  // Gaussian elimination with partial pivoting.
  for (let c = 0; c < d; c++) {
    let p = c;
    for (let i = c + 1; i < d; i++) if (Math.abs(A[i * d + c]!) > Math.abs(A[p * d + c]!)) p = i;
    if (p !== c) {
      for (let k = 0; k < d; k++) [A[c * d + k], A[p * d + k]] = [A[p * d + k]!, A[c * d + k]!];
      [r[c], r[p]] = [r[p]!, r[c]!];
    }
    for (let i = c + 1; i < d; i++) {
      const f = A[i * d + c]! / A[c * d + c]!;
      for (let k = c; k < d; k++) A[i * d + k]! -= f * A[c * d + k]!;
      r[i]! -= f * r[c]!;
    }
  }
  const sol = new Float64Array(d);
  for (let i = d - 1; i >= 0; i--) {
    let s = r[i]!;
    for (let k = i + 1; k < d; k++) s -= A[i * d + k]! * sol[k]!;
    sol[i] = s / A[i * d + i]!;
  }
  return { w: sol.subarray(0, features), b: sol[features]! };
}
