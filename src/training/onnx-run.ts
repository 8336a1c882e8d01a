import * as ort from 'onnxruntime-node';
import { PAD_ID } from './tokenizer.js';

/** Runs exported models with onnxruntime-node, the runtime the server uses. */
export async function openSession(file: string): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(file, { intraOpNumThreads: 1, interOpNumThreads: 1 });
}

/** Logits of a text classifier for id sequences, right-padded with [PAD] in batches. */
export async function runTextClassifier(session: ort.InferenceSession, seqs: number[][], batchSize = 256): Promise<number[][]> {
  const out: number[][] = [];
  for (let s = 0; s < seqs.length; s += batchSize) {
    const batch = seqs.slice(s, s + batchSize);
    const len = Math.max(1, ...batch.map((b) => b.length));
    const ids = new BigInt64Array(batch.length * len).fill(BigInt(PAD_ID));
    const mask = new BigInt64Array(batch.length * len);
    batch.forEach((b, i) => {
      for (let t = 0; t < b.length; t++) {
        ids[i * len + t] = BigInt(b[t]!);
        mask[i * len + t] = 1n;
      }
    });
    const res = await session.run({
      input_ids: new ort.Tensor('int64', ids, [batch.length, len]),
      attention_mask: new ort.Tensor('int64', mask, [batch.length, len]),
    });
    const logits = res['logits']!;
    const k = logits.dims[1]!;
    const data = logits.data as Float32Array;
    for (let i = 0; i < batch.length; i++) out.push(Array.from(data.subarray(i * k, (i + 1) * k)));
  }
  return out;
}

/** Runs a model with one float32 [batch, F] input and one float32 [batch, K] output. */
export async function runDense(session: ort.InferenceSession, input: string, x: Float32Array, features: number, batchSize = 1024): Promise<Float32Array[]> {
  const n = x.length / features;
  const out: Float32Array[] = [];
  const outName = session.outputNames[0]!;
  for (let s = 0; s < n; s += batchSize) {
    const b = Math.min(batchSize, n - s);
    const res = await session.run({ [input]: new ort.Tensor('float32', x.slice(s * features, (s + b) * features), [b, features]) });
    const t = res[outName]!;
    const k = t.dims[1]!;
    const data = t.data as Float32Array;
    for (let i = 0; i < b; i++) out.push(data.slice(i * k, (i + 1) * k));
  }
  return out;
}
