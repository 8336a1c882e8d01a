import { roundToHalf } from './float16.js';

/**
 * Row-wise symmetric int8 quantisation of an embedding table, for a graph a quarter the size of
 * float32 (half of float16): row r is stored as int8 codes q and one float16 scale s, and read as
 * q · s. One scale per row, not per table, because rows differ in size by an order of magnitude
 * (a frequent word's learnt offset against a rare word's bare projection): a shared scale would
 * spend most of the 255 levels of the small rows on nothing.
 *
 * The scale is rounded to float16 before the codes are chosen, so `values` (q times the stored
 * scale, in float32) is exactly what the graph computes from the stored codes and scales.
 */
export interface Int8Rows {
  /** [rows, width] codes in -127..127. */
  codes: Int8Array;
  /** [rows] float16-representable scales (0 for an all-zero row). */
  scales: Float32Array;
  /** [rows, width]: codes[i] · scales[row of i], rounded to float32. */
  values: Float32Array;
}

export function quantizeRows(table: Float32Array, width: number): Int8Rows {
  if (width <= 0 || table.length % width !== 0) throw new Error(`a table of ${table.length} values has no rows of ${width}`);
  const rows = table.length / width;
  const max = new Float32Array(rows);
  for (let r = 0; r < rows; r++) for (let i = r * width; i < (r + 1) * width; i++) max[r] = Math.max(max[r]!, Math.abs(table[i]!));
  const scales = roundToHalf(max.map((m) => m / 127));
  const codes = new Int8Array(table.length);
  const values = new Float32Array(table.length);
  for (let r = 0; r < rows; r++) {
    const s = scales[r]!;
    if (s === 0) continue;
    for (let i = r * width; i < (r + 1) * width; i++) {
      // The rounded scale can be a little below max/127: clamp so that the largest stays a code.
      const q = Math.max(-127, Math.min(127, Math.round(table[i]! / s)));
      codes[i] = q;
      values[i] = q * s;
    }
  }
  return { codes, scales, values };
}
