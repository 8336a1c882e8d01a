import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { RowBuffer, type RowBufferOptions } from '../../src/observability/row-buffer.js';

/** A buffer whose writer takes everything when due, recording each batch; rows are numbers. */
function buffer(options: Partial<RowBufferOptions> = {}) {
  const batches: number[][] = [];
  const drops: number[] = [];
  const rows: RowBuffer<number> = new RowBuffer<number>({
    flushSize: 4,
    flushIntervalMs: 200,
    maxPending: 20,
    due: () => batches.push(rows.take()),
    dropped: (n) => drops.push(n),
    ...options,
  });
  return { rows, batches, drops };
}

describe('RowBuffer', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('hands rows to the writer after flushIntervalMs, never inside add', () => {
    const { rows, batches } = buffer();
    rows.add([1, 2]);
    rows.add([3]);
    expect(batches).toEqual([]);
    vi.advanceTimersByTime(199);
    expect(batches).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(batches).toEqual([[1, 2, 3]]);
    expect(rows.length).toBe(0);
  });

  it('at flushSize, on the next turn of the event loop, once however many adds follow', () => {
    const { rows, batches } = buffer();
    rows.add([1, 2, 3, 4]);
    rows.add([5]);
    expect(batches).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(batches).toEqual([[1, 2, 3, 4, 5]]);
    vi.advanceTimersByTime(1000);
    expect(batches).toHaveLength(1);
  });

  it('past maxPending drops the oldest rows and a tenth more, counting rows in transit', () => {
    const inTransit = { rows: 0 };
    const { rows, drops } = buffer({ flushSize: 1000, inTransit: () => inTransit.rows });
    rows.add(Array.from({ length: 20 }, (_, i) => i));
    expect(drops).toEqual([]);
    rows.add([20]);
    // 21 waiting, bound 20: 1 over plus 2 (a tenth of the bound).
    expect(drops).toEqual([3]);
    expect(rows.take(2)).toEqual([3, 4]);
    inTransit.rows = 20;
    rows.add([21]);
    // 17 here + 20 in transit: 17 over plus 2, but only the 17 here can go.
    expect(drops).toEqual([3, 17]);
    expect(rows.length).toBe(0);
  });

  it('take(max) leaves the rest for dueSoon; stop and clear forget the timer', () => {
    const batches: number[][] = [];
    const rows: RowBuffer<number> = new RowBuffer<number>({
      flushSize: 100,
      flushIntervalMs: 200,
      maxPending: 1000,
      due: () => {
        batches.push(rows.take(2));
        if (rows.length > 0) rows.dueSoon();
      },
      dropped: () => undefined,
    });
    rows.add([1, 2, 3, 4, 5]);
    vi.advanceTimersByTime(200);
    // A timer of 0 ms fires after 1 ms, in Node as with fake timers.
    vi.advanceTimersByTime(1);
    vi.advanceTimersByTime(1);
    expect(batches).toEqual([[1, 2], [3, 4], [5]]);
    rows.add([6]);
    rows.stop();
    vi.advanceTimersByTime(1000);
    expect(batches).toHaveLength(3);
    rows.add([7]);
    expect(rows.clear()).toBe(2);
    vi.advanceTimersByTime(1000);
    expect(batches).toHaveLength(3);
  });
});
