import { describe, expect, it } from 'vitest';
import { softmax, topClass } from '../../src/tasks/math.js';

describe('softmax', () => {
  it('gives probabilities in the logits order that sum to one', () => {
    const p = softmax(Float32Array.from([1, 2, 3]));
    const e = [Math.exp(-2), Math.exp(-1), 1];
    const sum = e[0]! + e[1]! + e[2]!;
    expect(p).toHaveLength(3);
    p.forEach((value, i) => expect(value).toBeCloseTo(e[i]! / sum, 12));
    expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
  });

  it('stays finite for logits far beyond exp()', () => {
    const p = softmax([1000, 1000, -1000]);
    expect(p[0]).toBeCloseTo(0.5, 12);
    expect(p[1]).toBeCloseTo(0.5, 12);
    expect(p[2]).toBe(0);
  });

  it('is certain of a lone class and empty for none', () => {
    expect(softmax([42])).toEqual([1]);
    expect(softmax([])).toEqual([]);
  });
});

describe('topClass', () => {
  it('names the most probable class, the first of a tie, and every score by label', () => {
    expect(topClass([0.2, 0.7, 0.1], ['a', 'b', 'c'])).toEqual({ label: 'b', score: 0.7, scores: { a: 0.2, b: 0.7, c: 0.1 } });
    expect(topClass([0.5, 0.5], ['NEGATIVE', 'POSITIVE']).label).toBe('NEGATIVE');
  });
});
