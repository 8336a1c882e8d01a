import { GraphBuilder } from './onnx-graph.js';
import { Rng } from './rng.js';

/**
 * A small LeNet-style CNN for 28x28 grey images, in plain typed-array math:
 * conv 5x5 (c1) -> ReLU -> max-pool 2 -> conv 5x5 (c2) -> ReLU -> max-pool 2 -> dense (hidden) -> ReLU -> dense (10).
 * Tensors are channel-major (CHW) like ONNX, so the exported graph uses the same weights as they are.
 */
export interface CnnConfig {
  c1: number;
  c2: number;
  hidden: number;
  classes: number;
}

export interface CnnTrainOptions {
  epochs: number;
  batchSize: number;
  lr: number;
  momentum: number;
  weightDecay: number;
  /** Random translation of up to this many pixels in x and y (training only). */
  shift: number;
  seed: number;
  onEpoch?: (epoch: number, loss: number, seconds: number) => void;
}

const S = 28;
const K = 5;
const A1 = S - K + 1; // 24
const P1 = A1 / 2; // 12
const A2 = P1 - K + 1; // 8
const P2 = A2 / 2; // 4

interface Param {
  name: string;
  w: Float32Array;
  g: Float32Array;
  v: Float32Array;
  decay: boolean;
}

function param(name: string, n: number, decay: boolean): Param {
  return { name, w: new Float32Array(n), g: new Float32Array(n), v: new Float32Array(n), decay };
}

/** Per-sample activations kept for the backward pass. */
class Workspace {
  a1: Float32Array;
  p1: Float32Array;
  i1: Int32Array;
  a2: Float32Array;
  p2: Float32Array;
  i2: Int32Array;
  h: Float32Array;
  out: Float32Array;
  gp2: Float32Array;
  ga2: Float32Array;
  gp1: Float32Array;
  ga1: Float32Array;
  gh: Float32Array;
  constructor(cfg: CnnConfig) {
    this.a1 = new Float32Array(cfg.c1 * A1 * A1);
    this.p1 = new Float32Array(cfg.c1 * P1 * P1);
    this.i1 = new Int32Array(cfg.c1 * P1 * P1);
    this.a2 = new Float32Array(cfg.c2 * A2 * A2);
    this.p2 = new Float32Array(cfg.c2 * P2 * P2);
    this.i2 = new Int32Array(cfg.c2 * P2 * P2);
    this.h = new Float32Array(cfg.hidden);
    this.out = new Float32Array(cfg.classes);
    this.gp2 = new Float32Array(this.p2.length);
    this.ga2 = new Float32Array(this.a2.length);
    this.gp1 = new Float32Array(this.p1.length);
    this.ga1 = new Float32Array(this.a1.length);
    this.gh = new Float32Array(cfg.hidden);
  }
}

function convForward(input: Float32Array, inOff: number, C: number, H: number, w: Float32Array, b: Float32Array, O: number, out: Float32Array): void {
  const Ho = H - K + 1;
  for (let o = 0; o < O; o++) {
    const ob = o * Ho * Ho;
    out.fill(b[o]!, ob, ob + Ho * Ho);
    for (let c = 0; c < C; c++) {
      for (let ky = 0; ky < K; ky++) {
        for (let kx = 0; kx < K; kx++) {
          const wv = w[((o * C + c) * K + ky) * K + kx]!;
          for (let y = 0; y < Ho; y++) {
            const ir = inOff + (c * H + y + ky) * H + kx;
            const or = ob + y * Ho;
            for (let x = 0; x < Ho; x++) out[or + x]! += wv * input[ir + x]!;
          }
        }
      }
    }
    for (let i = ob; i < ob + Ho * Ho; i++) if (out[i]! < 0) out[i] = 0;
  }
}

/** Accumulates dW, db and (when gIn is given) dInput from the gradient at the conv output. */
function convBackward(input: Float32Array, inOff: number, C: number, H: number, w: Float32Array, gw: Float32Array, gb: Float32Array, O: number, gOut: Float32Array, gIn: Float32Array | null): void {
  const Ho = H - K + 1;
  if (gIn) gIn.fill(0);
  for (let o = 0; o < O; o++) {
    const ob = o * Ho * Ho;
    let sb = 0;
    for (let i = ob; i < ob + Ho * Ho; i++) sb += gOut[i]!;
    gb[o]! += sb;
    for (let c = 0; c < C; c++) {
      for (let ky = 0; ky < K; ky++) {
        for (let kx = 0; kx < K; kx++) {
          const wi = ((o * C + c) * K + ky) * K + kx;
          const wv = w[wi]!;
          let s = 0;
          for (let y = 0; y < Ho; y++) {
            const ir = inOff + (c * H + y + ky) * H + kx;
            const or = ob + y * Ho;
            for (let x = 0; x < Ho; x++) s += gOut[or + x]! * input[ir + x]!;
            if (gIn) {
              const gr = (c * H + y + ky) * H + kx;
              for (let x = 0; x < Ho; x++) gIn[gr + x]! += gOut[or + x]! * wv;
            }
          }
          gw[wi]! += s;
        }
      }
    }
  }
}

function poolForward(a: Float32Array, C: number, H: number, out: Float32Array, idx: Int32Array): void {
  const Ho = H / 2;
  for (let c = 0; c < C; c++) {
    for (let y = 0; y < Ho; y++) {
      for (let x = 0; x < Ho; x++) {
        const i0 = (c * H + 2 * y) * H + 2 * x;
        let best = i0;
        if (a[i0 + 1]! > a[best]!) best = i0 + 1;
        if (a[i0 + H]! > a[best]!) best = i0 + H;
        if (a[i0 + H + 1]! > a[best]!) best = i0 + H + 1;
        const o = (c * Ho + y) * Ho + x;
        out[o] = a[best]!;
        idx[o] = best;
      }
    }
  }
}

export class Cnn {
  readonly w1: Param;
  readonly b1: Param;
  readonly w2: Param;
  readonly b2: Param;
  readonly w3: Param;
  readonly b3: Param;
  readonly w4: Param;
  readonly b4: Param;
  private readonly params: Param[];
  private readonly ws: Workspace;

  constructor(readonly cfg: CnnConfig, seed: number) {
    const { c1, c2, hidden, classes } = cfg;
    const flat = c2 * P2 * P2;
    this.w1 = param('conv1.weight', c1 * K * K, true);
    this.b1 = param('conv1.bias', c1, false);
    this.w2 = param('conv2.weight', c2 * c1 * K * K, true);
    this.b2 = param('conv2.bias', c2, false);
    this.w3 = param('fc1.weight', flat * hidden, true); // [flat, hidden]
    this.b3 = param('fc1.bias', hidden, false);
    this.w4 = param('fc2.weight', hidden * classes, true); // [hidden, classes]
    this.b4 = param('fc2.bias', classes, false);
    this.params = [this.w1, this.b1, this.w2, this.b2, this.w3, this.b3, this.w4, this.b4];
    const rng = new Rng(seed);
    const he = (p: Param, fanIn: number) => {
      const s = Math.sqrt(2 / fanIn);
      for (let i = 0; i < p.w.length; i++) p.w[i] = rng.normal() * s;
    };
    he(this.w1, K * K);
    he(this.w2, c1 * K * K);
    he(this.w3, flat);
    he(this.w4, hidden);
    this.ws = new Workspace(cfg);
  }

  get parameterCount(): number {
    return this.params.reduce((s, p) => s + p.w.length, 0);
  }

  /** Logits for one image (784 values at `off` in `x`), leaving activations in the workspace. */
  private forwardOne(x: Float32Array, off: number): Float32Array {
    const { c1, c2, hidden, classes } = this.cfg;
    const ws = this.ws;
    convForward(x, off, 1, S, this.w1.w, this.b1.w, c1, ws.a1);
    poolForward(ws.a1, c1, A1, ws.p1, ws.i1);
    convForward(ws.p1, 0, c1, P1, this.w2.w, this.b2.w, c2, ws.a2);
    poolForward(ws.a2, c2, A2, ws.p2, ws.i2);
    const flat = ws.p2.length;
    const w3 = this.w3.w;
    for (let h = 0; h < hidden; h++) ws.h[h] = this.b3.w[h]!;
    for (let i = 0; i < flat; i++) {
      const v = ws.p2[i]!;
      if (v === 0) continue;
      const row = i * hidden;
      for (let h = 0; h < hidden; h++) ws.h[h]! += v * w3[row + h]!;
    }
    for (let h = 0; h < hidden; h++) if (ws.h[h]! < 0) ws.h[h] = 0;
    for (let c = 0; c < classes; c++) {
      let z = this.b4.w[c]!;
      for (let h = 0; h < hidden; h++) z += ws.h[h]! * this.w4.w[h * classes + c]!;
      ws.out[c] = z;
    }
    return ws.out;
  }

  /** Logits for n images. */
  predict(x: Float32Array): Float32Array[] {
    const n = x.length / (S * S);
    const out: Float32Array[] = [];
    for (let i = 0; i < n; i++) out.push(Float32Array.from(this.forwardOne(x, i * S * S)));
    return out;
  }

  /** Backward pass for the sample last run through forwardOne; gLogits = softmax - onehot. */
  private backwardOne(x: Float32Array, off: number, gLogits: Float32Array): void {
    const { c1, c2, hidden, classes } = this.cfg;
    const ws = this.ws;
    for (let h = 0; h < hidden; h++) {
      let s = 0;
      for (let c = 0; c < classes; c++) {
        s += this.w4.w[h * classes + c]! * gLogits[c]!;
        this.w4.g[h * classes + c]! += ws.h[h]! * gLogits[c]!;
      }
      ws.gh[h] = ws.h[h]! > 0 ? s : 0;
    }
    for (let c = 0; c < classes; c++) this.b4.g[c]! += gLogits[c]!;
    const flat = ws.p2.length;
    for (let h = 0; h < hidden; h++) this.b3.g[h]! += ws.gh[h]!;
    for (let i = 0; i < flat; i++) {
      const v = ws.p2[i]!;
      const row = i * hidden;
      let s = 0;
      for (let h = 0; h < hidden; h++) {
        const gh = ws.gh[h]!;
        s += this.w3.w[row + h]! * gh;
        if (v !== 0) this.w3.g[row + h]! += v * gh;
      }
      ws.gp2[i] = s;
    }
    // unpool 2 (+ ReLU mask: a pooled zero means the ReLU was off)
    ws.ga2.fill(0);
    for (let i = 0; i < flat; i++) if (ws.p2[i]! > 0) ws.ga2[ws.i2[i]!] = ws.gp2[i]!;
    convBackward(ws.p1, 0, c1, P1, this.w2.w, this.w2.g, this.b2.g, c2, ws.ga2, ws.gp1);
    ws.ga1.fill(0);
    for (let i = 0; i < ws.p1.length; i++) if (ws.p1[i]! > 0) ws.ga1[ws.i1[i]!] = ws.gp1[i]!;
    convBackward(x, off, 1, S, this.w1.w, this.w1.g, this.b1.g, c1, ws.ga1, null);
  }

  /** Mini-batch SGD with momentum, cosine learning-rate decay, weight decay and random shifts. */
  train(x: Float32Array, y: Uint8Array, opts: CnnTrainOptions): void {
    const n = y.length;
    const rng = new Rng(opts.seed);
    const img = new Float32Array(S * S);
    const g = new Float32Array(this.cfg.classes);
    const steps = Math.ceil(n / opts.batchSize) * opts.epochs;
    let step = 0;
    for (let epoch = 0; epoch < opts.epochs; epoch++) {
      const t0 = performance.now();
      const order = rng.permutation(n);
      let loss = 0;
      for (let s = 0; s < n; s += opts.batchSize) {
        const end = Math.min(n, s + opts.batchSize);
        for (const p of this.params) p.g.fill(0);
        for (let k = s; k < end; k++) {
          const i = order[k]!;
          const dx = opts.shift ? rng.int(2 * opts.shift + 1) - opts.shift : 0;
          const dy = opts.shift ? rng.int(2 * opts.shift + 1) - opts.shift : 0;
          shiftImage(x, i * S * S, dx, dy, img);
          const logits = this.forwardOne(img, 0);
          let max = -Infinity;
          for (const z of logits) max = Math.max(max, z);
          let sum = 0;
          for (let c = 0; c < logits.length; c++) sum += Math.exp(logits[c]! - max);
          for (let c = 0; c < logits.length; c++) {
            const p = Math.exp(logits[c]! - max) / sum;
            g[c] = p - (c === y[i] ? 1 : 0);
            if (c === y[i]) loss -= Math.log(Math.max(p, 1e-12));
          }
          this.backwardOne(img, 0, g);
        }
        const lr = 0.5 * opts.lr * (1 + Math.cos((Math.PI * step) / steps));
        step++;
        const inv = 1 / (end - s);
        for (const p of this.params) {
          const { w, g: gr, v } = p;
          const wd = p.decay ? opts.weightDecay : 0;
          for (let j = 0; j < w.length; j++) {
            const grad = gr[j]! * inv + wd * w[j]!;
            v[j] = opts.momentum * v[j]! + grad;
            w[j]! -= lr * v[j]!;
          }
        }
      }
      opts.onEpoch?.(epoch + 1, loss / n, (performance.now() - t0) / 1000);
    }
  }

  /** ONNX graph: pixels float32 [batch, 784] in [0,1] -> logits float32 [batch, classes]. */
  toOnnx(docString = ''): Uint8Array {
    const { c1, c2, hidden, classes } = this.cfg;
    const g = new GraphBuilder('vigil_digits_cnn');
    const px = g.input('pixels', 'float32', ['batch', S * S]);
    let t = g.node('Reshape', [px, g.ints('image_shape', [4], [-1, 1, S, S])]);
    const pool = { kernel_shape: [2, 2], strides: [2, 2] };
    t = g.node('Conv', [t, g.floats('conv1.weight', [c1, 1, K, K], this.w1.w), g.floats('conv1.bias', [c1], this.b1.w)], { kernel_shape: [K, K] });
    t = g.node('MaxPool', [g.node('Relu', [t])], pool);
    t = g.node('Conv', [t, g.floats('conv2.weight', [c2, c1, K, K], this.w2.w), g.floats('conv2.bias', [c2], this.b2.w)], { kernel_shape: [K, K] });
    t = g.node('MaxPool', [g.node('Relu', [t])], pool);
    t = g.node('Flatten', [t], { axis: 1 });
    t = g.node('Relu', [g.node('Add', [g.node('MatMul', [t, g.floats('fc1.weight', [c2 * P2 * P2, hidden], this.w3.w)]), g.floats('fc1.bias', [hidden], this.b3.w)])]);
    g.node('Add', [g.node('MatMul', [t, g.floats('fc2.weight', [hidden, classes], this.w4.w)]), g.floats('fc2.bias', [classes], this.b4.w)], {}, ['logits']);
    g.output('logits', 'float32', ['batch', classes]);
    return g.encode(docString);
  }
}

/** Copies image `off` of `x` into `out` translated by (dx, dy) pixels, zero-filled. */
export function shiftImage(x: Float32Array, off: number, dx: number, dy: number, out: Float32Array): void {
  if (dx === 0 && dy === 0) {
    out.set(x.subarray(off, off + S * S));
    return;
  }
  out.fill(0);
  for (let yy = 0; yy < S; yy++) {
    const sy = yy - dy;
    if (sy < 0 || sy >= S) continue;
    for (let xx = 0; xx < S; xx++) {
      const sx = xx - dx;
      if (sx >= 0 && sx < S) out[yy * S + xx] = x[off + sy * S + sx]!;
    }
  }
}
