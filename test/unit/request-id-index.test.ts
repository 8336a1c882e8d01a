import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RequestIdIndex } from '../../src/observability/request-id-index.js';

/** Adds and deletes against a Map of sets, with a table small enough to grow and wrap around. */
type Op = { op: 'add'; key: number } | { op: 'delete'; pick: number } | { op: 'find'; key: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ op: fc.constant('add' as const), key: fc.integer({ min: 0, max: 30 }) }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('delete' as const), pick: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('find' as const), key: fc.integer({ min: 0, max: 30 }) }) },
);

describe('RequestIdIndex', () => {
  it('finds what a Map of sets finds, through growth, wrap-around and deletions in any order', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 300 }), (ops) => {
        const keyById = new Map<number, string>();
        const index = new RequestIdIndex((id) => keyById.get(id), 16);
        const model = new Map<string, Set<number>>();
        let nextId = 1;
        for (const step of ops) {
          if (step.op === 'add') {
            const key = `req-${step.key}`;
            const id = nextId++;
            keyById.set(id, key);
            index.add(key, id);
            model.set(key, (model.get(key) ?? new Set()).add(id));
          } else if (step.op === 'delete') {
            const live = [...keyById.keys()];
            if (live.length === 0) continue;
            const id = live[step.pick % live.length]!;
            const key = keyById.get(id)!;
            // The store deletes while the row still answers its key, then lets the row go.
            index.delete(key, id);
            keyById.delete(id);
            model.get(key)!.delete(id);
          } else {
            const key = `req-${step.key}`;
            expect(index.find(key).sort((a, b) => a - b)).toEqual([...(model.get(key) ?? [])].sort((a, b) => a - b));
          }
        }
        // Every key at the end, and the count.
        for (const [key, ids] of model) expect(index.find(key).sort((a, b) => a - b)).toEqual([...ids].sort((a, b) => a - b));
        expect(index.size).toBe(keyById.size);
      }),
      { numRuns: 500 },
    );
  });

  it('answers nothing for a key it never had, and deleting an absent id changes nothing', () => {
    const keys = new Map<number, string>([[1, 'a']]);
    const index = new RequestIdIndex((id) => keys.get(id));
    index.add('a', 1);
    expect(index.find('b')).toEqual([]);
    index.delete('a', 2);
    index.delete('b', 1);
    expect(index.find('a')).toEqual([1]);
    expect(index.size).toBe(1);
  });
});
