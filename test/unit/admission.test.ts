import { describe, expect, it } from 'vitest';
import { Admission } from '../../src/serving/admission.js';

describe('Admission', () => {
  it('bounds the process and each model, and gives slots back', () => {
    const admission = new Admission({ maxInFlight: 3, maxInFlightPerModel: 2 });
    expect(admission.admit('a')).toBeUndefined();
    expect(admission.admit('a')).toBeUndefined();
    expect(admission.admit('a')).toMatchObject({ reason: 'model_in_flight', limit: 2 });
    expect(admission.admit('b')).toBeUndefined();
    expect(admission.admit('c')).toMatchObject({ reason: 'server_in_flight', limit: 3 });
    expect(admission.admit()).toMatchObject({ reason: 'server_in_flight' });
    admission.release('a');
    expect(admission.inFlight).toBe(2);
    expect(admission.admit()).toBeUndefined(); // not an inference request: only the process bound
    admission.release();
    admission.release('a');
    admission.release('b');
    expect(admission.inFlight).toBe(0);
    // Names come from request paths: none is kept once its requests are over.
    expect(admission.inFlightFor('a')).toBe(0);
    expect((admission as unknown as { perModel: Map<string, number> }).perModel.size).toBe(0);
  });

  it('Retry-After is the wait at the measured drain rate, within 1..30 s', () => {
    let now = 0;
    const admission = new Admission({ maxInFlight: 1000, maxInFlightPerModel: 100 }, () => now);
    // Before any measurement: 1 s.
    for (let i = 0; i < 100; i++) admission.admit('m');
    expect(admission.admit('m')?.retryAfterSeconds).toBe(1);
    // 20 requests finish per second: 100 waiting take 5 s.
    for (let second = 0; second < 4; second++) {
      for (let i = 0; i < 20; i++) {
        now += 50;
        admission.release('m');
        admission.admit('m');
      }
    }
    expect(admission.measuredDrainRate).toBeCloseTo(20, 0);
    expect(admission.admit('m')?.retryAfterSeconds).toBe(5);
    // Nothing finishes for a long while: the estimate falls, Retry-After grows to its cap.
    const waits: number[] = [];
    for (let i = 0; i < 4; i++) {
      now += 2000;
      waits.push(admission.admit('m')!.retryAfterSeconds);
    }
    expect(waits).toEqual([10, 20, 30, 30]);
  });
});
