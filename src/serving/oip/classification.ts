import { InvalidInput } from '../../errors.js';
import type { OipOutput } from '../../tasks/oip-tensors.js';
import type { RequestedOutput } from './infer-request.js';

/**
 * Triton's `classification` extension: an output requested with `{"parameters":
 * {"classification": k}}` comes back as its top k classes per row, BYTES [N,k] of
 * "<score>:<index>[:<label>]", best first (e.g. "0.97:1:POSITIVE"). Only class-score outputs
 * ([N,C] numbers: `probabilities`) can be classified.
 */

function topK(output: OipOutput, k: number, labels: readonly string[]): OipOutput {
  const [rows, classes] = output.shape;
  if (output.shape.length !== 2 || rows === undefined || classes === undefined || output.datatype === 'BYTES' || output.datatype === 'BOOL') {
    throw new InvalidInput(`output "${output.name}" holds no class scores; the classification parameter applies to class-score outputs such as "probabilities"`);
  }
  const width = Math.min(k, classes);
  const data: string[] = [];
  for (let r = 0; r < rows; r++) {
    const row = (output.data.slice(r * classes, (r + 1) * classes) as number[]).map((score, index) => ({ score, index }));
    row.sort((a, b) => b.score - a.score || a.index - b.index);
    for (const { score, index } of row.slice(0, width)) {
      const label = labels[index];
      data.push(`${Number(score.toPrecision(6))}:${index}${label !== undefined ? `:${label}` : ''}`);
    }
  }
  return { name: output.name, datatype: 'BYTES', shape: [rows, width], data };
}

/** The requested `classification` count of an output, checked; undefined when not asked. */
export function classificationCount(requested: RequestedOutput): number | undefined {
  const value = requested.parameters?.classification;
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new InvalidInput(`output "${requested.name}": parameter "classification" must be a positive integer, got ${JSON.stringify(value)}`);
  }
  return value;
}

/** Applies the extension to every requested output that asks for it, in place of its scores. */
export function applyClassification(outputs: OipOutput[], requested: RequestedOutput[] | undefined, labels: readonly string[]): OipOutput[] {
  if (!requested) return outputs;
  return outputs.map((output) => {
    const ask = requested.find((r) => r.name === output.name);
    const k = ask ? classificationCount(ask) : undefined;
    return k === undefined ? output : topK(output, k, labels);
  });
}
