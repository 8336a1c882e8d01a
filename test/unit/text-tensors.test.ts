import { describe, expect, it } from 'vitest';
import { writeInt64Rows } from '../../src/tasks/text-classification.js';

describe('text batch tensors', () => {
  it('writes ids padded to the batch width and the attention mask, as int64', () => {
    const batch = [
      { ids: [2, 30521, 7, 3], truncated: false },
      { ids: [2, 3], truncated: false },
      { ids: [2, 2_147_483_647, 3], truncated: false },
    ];
    const width = 4;
    const ids = new BigInt64Array(batch.length * width);
    const mask = new BigInt64Array(batch.length * width);
    writeInt64Rows(ids, mask, batch, width, 0);
    expect([...ids]).toEqual([2n, 30521n, 7n, 3n, 2n, 3n, 0n, 0n, 2n, 2_147_483_647n, 3n, 0n]);
    expect([...mask]).toEqual([1n, 1n, 1n, 1n, 1n, 1n, 0n, 0n, 1n, 1n, 1n, 0n]);
  });

  it('keeps the sign of a negative pad id', () => {
    const ids = new BigInt64Array(3);
    const mask = new BigInt64Array(3);
    writeInt64Rows(ids, mask, [{ ids: [5], truncated: false }], 3, -1);
    expect([...ids]).toEqual([5n, -1n, -1n]);
    expect([...mask]).toEqual([1n, 0n, 0n]);
  });
});
