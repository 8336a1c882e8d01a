/** Numerically stable softmax (subtracts the max so large logits do not overflow). */
export function softmax(logits: ArrayLike<number>): number[] {
  // Plain loops into one array: it runs once per prediction (Array.from, reduce and map made
  // three arrays and two closures for ten numbers).
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]!);
  const probabilities: number[] = [];
  let sum = 0;
  for (let i = 0; i < logits.length; i++) {
    const e = Math.exp(logits[i]! - max);
    probabilities.push(e);
    sum += e;
  }
  for (let i = 0; i < probabilities.length; i++) probabilities[i]! /= sum;
  return probabilities;
}

/** The most probable class, its probability, and every class's probability by label (labels in the probabilities' order). */
export function topClass(probabilities: readonly number[], labels: readonly string[]): { label: string; score: number; scores: Record<string, number> } {
  let best = 0;
  for (let i = 1; i < probabilities.length; i++) if (probabilities[i]! > probabilities[best]!) best = i;
  const scores: Record<string, number> = {};
  labels.forEach((label, i) => (scores[label] = probabilities[i]!));
  return { label: labels[best]!, score: probabilities[best]!, scores };
}
