import { Rng } from './rng.js';

/**
 * NB-weighted logistic regression (the "NBSVM" family of Wang & Manning 2012, with a logistic
 * loss): each feature is scaled by its naive-Bayes log-count ratio r = log(p/|p|) - log(q/|q|)
 * (smoothed by `alpha`), and a logistic regression is fitted on the scaled counts. The result is a
 * plain linear model over the same feature rows as the embedding model, score = bias + sum of the
 * weights of an example's features (repeats count), so the sentiment graph adds it with one Gather.
 */
export interface NbLogisticOptions {
  alpha: number;
  epochs: number;
  /** Initial SGD learning rate, decayed linearly to 0. */
  lr: number;
  l2: number;
  seed: number;
}

export interface LinearScorer {
  /** Per feature row: the weight already multiplied by its NB ratio. */
  weights: Float32Array;
  bias: number;
}

/** Score (log-odds of label 1) of one example's feature rows. */
export function linearScore(model: LinearScorer, feats: ArrayLike<number>): number {
  let z = model.bias;
  for (let j = 0; j < feats.length; j++) z += model.weights[feats[j]!]!;
  return z;
}

export function trainNbLogistic(feats: Int32Array[], labels: ArrayLike<number>, rows: number, opts: NbLogisticOptions): LinearScorer {
  // Log-count ratios from document frequencies (binarised, as NBSVM does).
  const pos = new Float64Array(rows).fill(opts.alpha);
  const neg = new Float64Array(rows).fill(opts.alpha);
  const seen = new Int32Array(rows).fill(-1);
  feats.forEach((f, i) => {
    const counts = labels[i] ? pos : neg;
    for (const r of f) {
      if (seen[r] === i) continue;
      seen[r] = i;
      counts[r]! += 1;
    }
  });
  let sumPos = 0;
  let sumNeg = 0;
  for (let r = 0; r < rows; r++) {
    sumPos += pos[r]!;
    sumNeg += neg[r]!;
  }
  const ratio = new Float64Array(rows);
  for (let r = 0; r < rows; r++) ratio[r] = Math.log(pos[r]! / sumPos) - Math.log(neg[r]! / sumNeg);

  const w = new Float64Array(rows);
  let bias = 0;
  const rng = new Rng(opts.seed);
  const total = opts.epochs * feats.length;
  let step = 0;
  for (let e = 0; e < opts.epochs; e++) {
    for (const i of rng.permutation(feats.length)) {
      const f = feats[i]!;
      const lr = opts.lr * (1 - step++ / total);
      let z = bias;
      for (const r of f) z += w[r]! * ratio[r]!;
      const g = 1 / (1 + Math.exp(-z)) - labels[i]!;
      for (const r of f) w[r]! -= lr * (g * ratio[r]! + opts.l2 * w[r]!);
      bias -= lr * g;
    }
  }
  return { weights: Float32Array.from(w, (v, r) => v * ratio[r]!), bias };
}
