import { describe, expect, it } from 'vitest';
import { halfBits, halfToFloat, roundToHalf } from '../../src/training/float16.js';

/** The float16 rounding the sentiment table is stored with (the graph casts it back to float32). */
describe('float16', () => {
  it('encodes known values bit for bit', () => {
    expect(halfBits(1)).toBe(0x3c00);
    expect(halfBits(-2)).toBe(0xc000);
    expect(halfBits(65504)).toBe(0x7bff); // largest half
    expect(halfBits(1e6)).toBe(0x7c00); // overflow -> infinity
    expect(halfBits(2 ** -24)).toBe(0x0001); // smallest subnormal
    expect(halfBits(2 ** -26)).toBe(0); // underflow
    expect(halfBits(0.1)).toBe(0x2e66);
  });
  it('rounds to nearest, ties to even', () => {
    // Between 1 and the next half (1 + 2^-10): the midpoint goes to the even mantissa (1).
    expect(halfToFloat(halfBits(1 + 2 ** -11))).toBe(1);
    expect(halfToFloat(halfBits(1 + 3 * 2 ** -11))).toBe(1 + 2 * 2 ** -10);
    expect(halfToFloat(halfBits(1 + 2 ** -11 + 2 ** -20))).toBe(1 + 2 ** -10);
  });
  it('round-trips every half exactly', () => {
    for (let h = 0; h < 0x7c00; h += 7) expect(halfBits(halfToFloat(h))).toBe(h);
    const a = Float32Array.from([0.123456, -3.14159, 1e-5]);
    const r = roundToHalf(a);
    // Half an ulp: relative 2^-11 for normals, absolute 2^-25 below the smallest normal (1e-5 is subnormal).
    r.forEach((v, i) => expect(Math.abs(v - a[i]!)).toBeLessThanOrEqual(Math.max(Math.abs(a[i]!) * 2 ** -11, 2 ** -25)));
  });
});
