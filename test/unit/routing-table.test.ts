import { describe, expect, it } from 'vitest';
import { applyRoutingChange, DEFAULT_POLICY, parseRoutingChange } from '../../src/serving/routing-policy.js';
import { pickChampion, RoutingTable, type RoutableVersion } from '../../src/serving/routing-table.js';
import { splitPoint } from '../../src/serving/traffic-split.js';

const version = (v: string, state = 'ready', task = 'text-classification'): RoutableVersion => ({ version: v, state, spec: { task } });
const three = () => [version('1'), version('2'), version('3')];

describe('routing policy parsing', () => {
  it('reads every field, numbers as version names, null as a reset', () => {
    expect(parseRoutingChange({ champion: 1, challenger: '2', canary_weight: 0.1, shadow: null, shadow_weight: 0.5 })).toEqual({
      champion: '1',
      challenger: '2',
      canaryWeight: 0.1,
      shadow: null,
      shadowWeight: 0.5,
    });
    expect(applyRoutingChange({ ...DEFAULT_POLICY, shadow: '3', canaryWeight: 0.2, challenger: '2' }, { shadow: null, canaryWeight: null })).toEqual({
      challenger: '2',
      canaryWeight: 0,
      shadowWeight: 1,
    });
  });

  it('names the bad field, with the prefix it was given', () => {
    expect(() => parseRoutingChange({ canary_weight: 10 })).toThrow(/"canary_weight" must be a number from 0 to 1 .* got 10/);
    expect(() => parseRoutingChange({ canary_weight: '0.1' })).toThrow(/"canary_weight" must be a number/);
    expect(() => parseRoutingChange({ shadow_weight: -0.1 }, 'routing.spam.')).toThrow(/"routing.spam.shadow_weight"/);
    expect(() => parseRoutingChange({ challenger: 'two words' })).toThrow(/"challenger" must be a version name/);
    expect(() => parseRoutingChange({ canaryWeight: 0.1 })).toThrow(/unknown field "canaryWeight"/);
    expect(() => parseRoutingChange([])).toThrow(/must be a JSON object/);
    expect(() => parseRoutingChange({ champion: 1 })).not.toThrow();
  });
});

describe('champion choice', () => {
  it('is the newest ready version when nothing is pinned, as before routing existed', () => {
    expect(pickChampion(three(), DEFAULT_POLICY).version).toBe('3');
    expect(pickChampion([version('1'), version('2'), version('3', 'failed')], DEFAULT_POLICY).version).toBe('2');
    expect(pickChampion([version('1', 'loading'), version('2', 'loading')], DEFAULT_POLICY).version).toBe('2');
  });

  it('skips the versions being tried out (challenger, shadow), and honours a pin', () => {
    expect(pickChampion(three(), { ...DEFAULT_POLICY, challenger: '3', shadow: '2' }).version).toBe('1');
    expect(pickChampion(three(), { ...DEFAULT_POLICY, champion: '2' }).version).toBe('2');
  });
});

describe('routing table operations', () => {
  it('refuses policies that cannot work, naming the field', () => {
    const table = new RoutingTable();
    expect(() => table.change('m', three(), { canaryWeight: 0.1 })).toThrow(/"canary_weight" is 0.1 but there is no "challenger"/);
    expect(() => table.change('m', three(), { champion: '2', challenger: '2' })).toThrow(/"challenger" must be another version than the champion/);
    expect(() => table.change('m', three(), { champion: '2', shadow: '2' })).toThrow(/"shadow" must be another version/);
    expect(() => table.change('m', three(), { challenger: '9' })).toThrow(expect.objectContaining({ status: 404, code: 'version_not_found' }));
    const mixed = [version('1'), version('2', 'ready', 'image-classification')];
    expect(() => table.change('m', mixed, { champion: '1', challenger: '2' })).toThrow(/"challenger": version "2" is a image-classification model/);
    expect(table.entry('m').policy).toEqual(DEFAULT_POLICY);
  });

  it('will not make a version that is not ready the champion at runtime, but will at startup', () => {
    const versions = [version('1'), version('2', 'loading')];
    expect(() => new RoutingTable().change('m', versions, { champion: '2' })).toThrow(expect.objectContaining({ status: 409, code: 'version_not_ready' }));
    const atStartup = new RoutingTable().change('m', versions, { champion: '2' }, { atStartup: true });
    expect(atStartup.policy.champion).toBe('2');
    // The configuration's champion replaces nothing a rollback should return to.
    expect(atStartup.previousChampion).toBeUndefined();
  });

  it('PUT replaces, PATCH merges', () => {
    const table = new RoutingTable();
    table.change('m', three(), { challenger: '3', canaryWeight: 0.2, shadow: '2' });
    table.change('m', three(), { canaryWeight: 0.5 });
    expect(table.entry('m').policy).toEqual({ challenger: '3', canaryWeight: 0.5, shadow: '2', shadowWeight: 1 });
    table.change('m', three(), { challenger: '2' }, { replace: true });
    expect(table.entry('m').policy).toEqual({ challenger: '2', canaryWeight: 0, shadowWeight: 1 });
  });

  it('promote, then roll back one step at a time: the canary first, then the promotion', () => {
    const table = new RoutingTable();
    table.change('m', three(), { champion: '2', challenger: '3', canaryWeight: 0.1 });
    expect(table.promote('m', three()).policy).toEqual({ champion: '3', canaryWeight: 0, shadowWeight: 1 });
    expect(table.entry('m').previousChampion).toBe('2');

    table.change('m', three(), { challenger: '1', canaryWeight: 0.3 });
    const abort = table.rollback('m', three());
    expect(abort.undid).toBe('canary');
    expect(abort.entry.policy).toMatchObject({ champion: '3', challenger: '1', canaryWeight: 0 });

    const undo = table.rollback('m', three());
    expect(undo.undid).toBe('promotion');
    expect(undo.entry.policy).toMatchObject({ champion: '2', challenger: '3', canaryWeight: 0 });
    expect(() => table.rollback('m', three())).toThrow(expect.objectContaining({ status: 409, code: 'nothing_to_roll_back' }));
  });

  it('promoting needs a ready challenger', () => {
    const table = new RoutingTable();
    expect(() => table.promote('m', three())).toThrow(expect.objectContaining({ status: 409, code: 'no_challenger' }));
    const versions = [version('1'), version('2', 'failed')];
    table.change('m', versions, { challenger: '2' });
    expect(() => table.promote('m', versions)).toThrow(expect.objectContaining({ code: 'version_not_ready' }));
  });

  it('a version that leaves the repository takes its aliases (and its canary share) with it', () => {
    const table = new RoutingTable();
    // Pinning 1 moved the champion away from 3 (the newest): 3 is what a rollback would return to.
    table.change('m', three(), { champion: '1', challenger: '3', canaryWeight: 0.5, shadow: '2' });
    expect(table.entry('m').previousChampion).toBe('3');
    expect(table.forgetMissing('m', [version('1'), version('2')])).toEqual(['challenger=3', 'previous_champion=3']);
    expect(table.entry('m')).toMatchObject({ policy: { champion: '1', canaryWeight: 0, shadow: '2', shadowWeight: 1 } });
    expect(table.entry('m').previousChampion).toBeUndefined();
  });

  it('describes effective champion, pins and aliases per version', () => {
    const table = new RoutingTable(() => Date.UTC(2025, 0, 1));
    table.change('m', three(), { challenger: '3', canaryWeight: 0.1 });
    expect(table.describe('m', three())).toEqual({
      model: 'm',
      champion: '2',
      champion_pinned: false,
      challenger: '3',
      canary_weight: 0.1,
      shadow: null,
      shadow_weight: 1,
      previous_champion: null,
      updated_at: '2025-01-01T00:00:00.000Z',
      versions: [
        { version: '1', state: 'ready', aliases: [] },
        { version: '2', state: 'ready', aliases: ['champion'] },
        { version: '3', state: 'ready', aliases: ['challenger'] },
      ],
    });
  });
});

describe('traffic split', () => {
  it('puts a key at the same point every time, and different splits at independent points', () => {
    expect(splitPoint('canary', 'spam', '2', 'user-1')).toBe(splitPoint('canary', 'spam', '2', 'user-1'));
    expect(splitPoint('canary', 'spam', '2', 'user-1')).not.toBe(splitPoint('shadow', 'spam', '2', 'user-1'));
    expect(splitPoint('canary', 'spam', '2', 'user-1')).not.toBe(splitPoint('canary', 'spam', '3', 'user-1'));
  });

  it('spreads keys evenly enough for weights to mean what they say', () => {
    const points = Array.from({ length: 10_000 }, (_, i) => splitPoint('canary', 'spam', '2', `user-${i}`));
    expect(points.every((p) => p >= 0 && p < 1)).toBe(true);
    for (const weight of [0.01, 0.1, 0.5, 0.9]) {
      const share = points.filter((p) => p < weight).length / points.length;
      // Deterministic for this key set; the bound is what a uniform hash gives (±4 standard errors).
      expect(Math.abs(share - weight)).toBeLessThan(4 * Math.sqrt((weight * (1 - weight)) / points.length));
    }
  });
});
