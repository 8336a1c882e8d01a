import { describe, expect, it } from 'vitest';
import { roundToHalf } from '../../src/training/float16.js';
import { quantizeRows } from '../../src/training/int8-rows.js';
import { Rng } from '../../src/training/rng.js';

/** Row-wise int8 quantisation of the CNN's embedding (src/training/int8-rows.ts). */
describe('quantizeRows', () => {
  const rng = new Rng(4);
  // Rows of very different sizes, and an all-zero row.
  const width = 8;
  const sizes = [1, 0.01, 0, 30];
  const table = Float32Array.from({ length: sizes.length * width }, (_, i) => sizes[Math.floor(i / width)]! * rng.normal());

  it('keeps each row within half a step of its own scale, and the values are codes times a float16 scale', () => {
    const { codes, scales, values } = quantizeRows(table, width);
    expect(Array.from(scales)).toEqual(Array.from(roundToHalf(scales)));
    for (let r = 0; r < sizes.length; r++) {
      const row = table.subarray(r * width, (r + 1) * width);
      const max = Math.max(...Array.from(row, Math.abs));
      expect(scales[r]).toBeCloseTo(max / 127, 2 + Math.max(0, -Math.floor(Math.log10(max || 1))));
      for (let i = r * width; i < (r + 1) * width; i++) {
        expect(Math.abs(codes[i]!)).toBeLessThanOrEqual(127);
        expect(values[i]).toBe(Math.fround(codes[i]! * scales[r]!));
        // Half a step, plus what the scale's own float16 rounding adds at the row's largest value.
        expect(Math.abs(values[i]! - table[i]!)).toBeLessThanOrEqual(scales[r]! * 0.5 + max * 2 ** -10);
      }
    }
    // The all-zero row stays zero; the largest value of a row uses (nearly) the whole code range.
    expect(scales[2]).toBe(0);
    expect(Array.from(codes.subarray(2 * width, 3 * width)).every((c) => c === 0)).toBe(true);
    expect(Math.max(...Array.from(codes.subarray(0, width), Math.abs))).toBeGreaterThanOrEqual(126);
  });

  it('refuses a table that is not whole rows', () => {
    expect(() => quantizeRows(new Float32Array(7), 3)).toThrow();
  });
});
