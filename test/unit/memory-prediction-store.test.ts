import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MemoryPredictionStore } from '../../src/observability/memory-prediction-store.js';
import { openPredictionStore } from '../../src/observability/open-prediction-store.js';
import type { LabelItem, PredictionRecord, PredictionStore } from '../../src/observability/prediction-store.js';
import { SqlitePredictionStore } from '../../src/observability/sqlite-prediction-store.js';

const DAY = 86_400_000;

/** One step both stores take; the clock is shared and only moves forward. */
type Step =
  | { op: 'append'; rows: { request: number; index: number; model: number; label?: string; score?: number; value?: number; shadow: boolean; ageDays: number }[] }
  | { op: 'label'; items: { pick: number; label?: string; value?: number; optional: boolean; lateMs: number }[] }
  | { op: 'find'; request: number }
  | { op: 'recent'; model: number; limit: number }
  | { op: 'age'; days: number };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant('append' as const),
      rows: fc.array(
        fc.record(
          {
            request: fc.integer({ min: 0, max: 12 }),
            index: fc.integer({ min: 0, max: 3 }),
            model: fc.integer({ min: 0, max: 1 }),
            label: fc.constantFrom('spam', 'ham'),
            score: fc.oneof(fc.double({ min: 0, max: 1, noNaN: true }), fc.constant(Number.NaN)),
            value: fc.double({ min: -1e6, max: 1e6, noNaN: true }).map((v) => v + 0), // no -0: SQLite gives 0 back
            shadow: fc.boolean(),
            // Under maxAgeDays: a row expires only when the clock jumps (an 'age' step), where both prune.
            ageDays: fc.integer({ min: 0, max: 9 }),
          },
          { requiredKeys: ['request', 'index', 'model', 'shadow', 'ageDays'] },
        ),
        { minLength: 1, maxLength: 4 },
      ),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('label' as const),
      items: fc.array(
        fc.record(
          {
            pick: fc.nat(),
            label: fc.constantFrom('spam', 'ham'),
            value: fc.oneof(fc.double({ min: -10, max: 10, noNaN: true }), fc.constant(Number.POSITIVE_INFINITY)),
            optional: fc.boolean(),
            // Labels carry their sender's clock: wide enough that arrival order and time order differ.
            lateMs: fc.integer({ min: -50, max: 50 }),
          },
          { requiredKeys: ['pick', 'optional', 'lateMs'] },
        ),
        { minLength: 1, maxLength: 3 },
      ),
    }),
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('find' as const), request: fc.integer({ min: 0, max: 12 }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('recent' as const), model: fc.integer({ min: 0, max: 1 }), limit: fc.integer({ min: 1, max: 6 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('age' as const), days: fc.integer({ min: 1, max: 15 }) }) },
);

/** Runs the steps on a store and returns everything it answered, in order. */
async function replay(store: PredictionStore, steps: Step[], clock: { now: number }, start: number): Promise<unknown[]> {
  clock.now = start;
  const answers: unknown[] = [];
  let appended = 0;
  for (const step of steps) {
    switch (step.op) {
      case 'append': {
        const records: PredictionRecord[] = step.rows.map((r) => ({
          requestId: `r${r.request}`,
          index: r.index,
          model: `m${r.model}`,
          version: '1',
          createdAt: clock.now - r.ageDays * DAY + 0.4,
          ...(r.label !== undefined ? { label: r.label } : {}),
          ...(r.score !== undefined ? { score: r.score } : {}),
          ...(r.value !== undefined ? { value: r.value } : {}),
          ...(r.shadow ? { shadow: true } : {}),
        }));
        store.append(records);
        appended += records.length;
        // The SQLite log keeps its row bound on a timer, the memory store at once: a prune
        // after each append lines them up (its count is not compared; the rows left are).
        await store.flush();
        await store.prune();
        answers.push(await store.count());
        break;
      }
      case 'label': {
        const items: LabelItem[] = step.items.map((i) => ({
          // Ids from 1 to a few past the last appended: some were removed, some never existed.
          id: 1 + (i.pick % (appended + 3)),
          ...(i.label !== undefined ? { trueLabel: i.label } : {}),
          ...(i.value !== undefined ? { trueValue: i.value } : {}),
          labelledAt: clock.now + i.lateMs,
          optional: i.optional,
        }));
        answers.push(await store.label(items));
        break;
      }
      case 'find':
        answers.push(await store.find(`r${step.request}`));
        break;
      case 'recent':
        answers.push(await store.recentLabelled(`m${step.model}`, '1', step.limit));
        break;
      case 'age':
        clock.now += step.days * DAY;
        await store.flush();
        answers.push(await store.prune(), await store.count());
        break;
    }
    clock.now += 1;
  }
  return answers;
}

describe('the in-memory prediction log', () => {
  it('answers every sequence of appends, labels, lookups and prunes as the SQLite log does', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(stepArb, { minLength: 1, maxLength: 40 }), fc.integer({ min: 3, max: 20 }), async (steps, maxRows) => {
        const clock = { now: 0 };
        const options = { maxRows, maxAgeDays: 10, pruneIntervalMs: 0, now: () => clock.now };
        const start = Date.UTC(2026, 11, 1);
        const memory = new MemoryPredictionStore(options);
        const sqlite = new SqlitePredictionStore({ ...options, flushIntervalMs: 60_000 });
        try {
          const fromMemory = await replay(memory, steps, clock, start);
          const fromSqlite = await replay(sqlite, steps, clock, start);
          expect(fromMemory).toEqual(fromSqlite);
        } finally {
          await Promise.all([memory.close(), sqlite.close()]);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('is the default, and keeps its row bound as rows arrive, oldest out first', async () => {
    const store = openPredictionStore({ maxRows: 3 });
    expect(store).toBeInstanceOf(MemoryPredictionStore);
    expect(store.inMemory).toBe(true);
    for (let i = 0; i < 5; i++) store.append([{ requestId: `r${i}`, index: 0, model: 'm', version: '1', createdAt: Date.now() }]);
    expect(await store.count()).toBe(3);
    expect(store.written).toBe(5);
    expect(store.pendingRows).toBe(0);
    expect(await store.find('r1')).toEqual([]);
    expect((await store.find('r2')).map((p) => p.id)).toEqual([3]);
    await store.close();
  });

  it('keeps no reference to what it was given or what it answered', async () => {
    const store = new MemoryPredictionStore();
    const record: PredictionRecord = { requestId: 'a', index: 0, model: 'm', version: '1', createdAt: 1, label: 'ham' };
    store.append([record]);
    record.label = 'spam';
    const [found] = await store.find('a');
    expect(found!.label).toBe('ham');
    found!.label = 'changed';
    expect((await store.find('a'))[0]!.label).toBe('ham');
    await store.close();
  });

  it('drops rows past the age limit on its timer', async () => {
    let now = Date.UTC(2026, 11, 1);
    const store = new MemoryPredictionStore({ maxAgeDays: 1, pruneIntervalMs: 10, now: () => now });
    store.append([{ requestId: 'old', index: 0, model: 'm', version: '1', createdAt: now }]);
    now += 2 * DAY;
    store.append([{ requestId: 'new', index: 0, model: 'm', version: '1', createdAt: now }]);
    await expect.poll(() => store.count(), { timeout: 5_000 }).toBe(1);
    expect(await store.find('new')).toHaveLength(1);
    await store.close();
  });
});
