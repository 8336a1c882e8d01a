import { describe, expect, it } from 'vitest';
import type { ModelSpec } from '../../src/models/spec.js';
import { featureVector, parseTabularRequest, tabularSettings } from '../../src/tasks/tabular-regression.js';

const spec = (preprocessing: Record<string, unknown>) => ({ name: 'air', preprocessing }) as unknown as ModelSpec;
const settings = tabularSettings(
  spec({
    features: [{ name: 'CO(GT)', unit: 'mg/m^3', mean: 2, std: 0.5 }, { name: 'T', unit: '°C' }, 'RH'],
    target: { name: 'C6H6(GT)', unit: 'µg/m^3', mean: 10, std: 7 },
  }),
);

describe('tabularSettings', () => {
  it('reads features in order, with units and standardisation, and the target', () => {
    expect(settings.features.map((f) => f.name)).toEqual(['CO(GT)', 'T', 'RH']);
    expect(settings.features[0]).toMatchObject({ unit: 'mg/m^3', mean: 2, std: 0.5 });
    expect(settings.target).toMatchObject({ name: 'C6H6(GT)', unit: 'µg/m^3' });
  });

  it('refuses specs without features, with nameless or duplicated ones; ignores a zero std', () => {
    expect(() => tabularSettings(spec({}))).toThrow(/needs preprocessing.features/);
    expect(() => tabularSettings(spec({ features: [{ unit: 'x' }] }))).toThrow(/preprocessing.features\[0\] needs a "name"/);
    expect(() => tabularSettings(spec({ features: ['a', 'a'] }))).toThrow(/"a" is listed twice/);
    expect(tabularSettings(spec({ features: [{ name: 'a', mean: 1, std: 0 }] })).features[0]!.std).toBeUndefined();
    expect(tabularSettings(spec({ features: ['a'] })).target.name).toBe('value');
  });
});

describe('standardisation in the graph and feature order by index (the trained air-quality spec)', () => {
  const inGraph = tabularSettings(
    spec({
      features: [{ index: 1, name: 'T', mean: 20, std: 8 }, { index: 0, name: 'S1', mean: 1000, std: 200 }],
      target: { name: 'CO(GT)', unit: 'mg/m^3' },
      standardization: { inGraph: true },
    }),
  );

  it('orders by index and sends raw readings when the graph standardises', () => {
    expect(inGraph.features.map((f) => f.name)).toEqual(['S1', 'T']);
    expect(inGraph.standardize).toBe(false);
    expect(Array.from(featureVector({ features: { T: 25, S1: 1100 }, field: 'features' }, inGraph))).toEqual([1100, 25]);
  });
});

describe('featureVector', () => {
  it('orders features as the spec does and standardises those with mean and std', () => {
    const v = featureVector({ features: { RH: 50, T: 20, 'CO(GT)': 3 }, field: 'features' }, settings);
    expect(Array.from(v)).toEqual([2, 20, 50]);
  });

  it('names every missing, unknown and non-finite feature at once, with the expected list and units', () => {
    expect(() => featureVector({ features: { T: 1, x: 2, y: 'z' }, field: 'rows[2]' }, settings)).toThrow(
      /"rows\[2\]": missing features "CO\(GT\)", "RH"; unknown features "x", "y" \(expected: CO\(GT\) \[mg\/m\^3\], T \[°C\], RH\)/,
    );
    expect(() => featureVector({ features: { 'CO(GT)': 1, T: '1', RH: Number.NaN }, field: 'features' }, settings)).toThrow(/features "T", "RH" must be finite numbers/);
    // As many keys as features, one of them not a feature: still named (the one-pass check counts keys).
    expect(() => featureVector({ features: { 'CO(GT)': 1, T: 2, humidity: 50 }, field: 'features' }, settings)).toThrow(/missing feature "RH"; unknown feature "humidity"/);
    expect(() => featureVector({ features: { 'CO(GT)': 1, T: 2, constructor: 3 }, field: 'features' }, settings)).toThrow(/missing feature "RH"; unknown feature "constructor"/);
  });
});

describe('parseTabularRequest', () => {
  const limits = { maxBatchInputs: 2 };
  it('one row or a batch of rows', () => {
    expect(parseTabularRequest({ features: { a: 1 } }, limits)).toEqual({ inputs: [{ features: { a: 1 }, field: 'features' }], batch: false });
    expect(parseTabularRequest({ rows: [{ a: 1 }, { a: 2 }] }, limits).inputs.map((i) => i.field)).toEqual(['rows[0]', 'rows[1]']);
  });

  it('refuses malformed bodies naming the field', () => {
    expect(() => parseTabularRequest([], limits)).toThrow(/JSON object/);
    expect(() => parseTabularRequest({ features: 1 }, limits)).toThrow(/"features" must be an object/);
    expect(() => parseTabularRequest({ rows: [{}, 3] }, limits)).toThrow(/"rows\[1\]" must be an object/);
    expect(() => parseTabularRequest({ rows: [{}, {}, {}] }, limits)).toThrow(/3 items; at most 2/);
    expect(() => parseTabularRequest({ rows: [] }, limits)).toThrow(/must not be empty/);
    expect(() => parseTabularRequest({ features: {}, rows: [] }, limits)).toThrow(/either "features" or "rows"/);
  });
});
