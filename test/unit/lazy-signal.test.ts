import { describe, expect, it } from 'vitest';
import { fieldsOf, withLazySignal } from '../../src/serving/lazy-signal.js';

describe('withLazySignal', () => {
  it('keeps the fields as own properties and makes the signal once, on first read', () => {
    let made = 0;
    const controller = new AbortController();
    const call = withLazySignal({ model: 'sentiment', timeoutMs: 50, onRoute: () => 'x' }, () => {
      made++;
      return controller.signal;
    });
    expect(made).toBe(0);
    expect(call.model).toBe('sentiment');
    expect(call.timeoutMs).toBe(50);
    expect(call.onRoute()).toBe('x');
    expect(call.signal).toBe(controller.signal);
    expect(call.signal).toBe(controller.signal);
    expect(made).toBe(1);
    expect(Object.keys(call)).toEqual(['model', 'timeoutMs', 'onRoute']);
  });

  it('remembers an undefined signal too (a layer whose caller has none)', () => {
    let made = 0;
    const call = withLazySignal({}, () => {
      made++;
      return undefined;
    });
    expect(call.signal).toBeUndefined();
    expect(call.signal).toBeUndefined();
    expect(made).toBe(1);
  });
});

describe('fieldsOf', () => {
  it("copies a call's fields for a derived call without reading its signal", () => {
    let made = 0;
    const call = withLazySignal({ model: 'm', timeoutMs: 5 }, () => {
      made++;
      return undefined;
    });
    const derived = withLazySignal({ ...fieldsOf(call), fallback: true }, () => call.signal);
    expect(made).toBe(0);
    expect(derived).toMatchObject({ model: 'm', timeoutMs: 5, fallback: true });
    // A plain spread would have lost it: the signal lives on the prototype.
    expect({ ...call }).not.toHaveProperty('signal');
    expect(fieldsOf({ a: 1, signal: new AbortController().signal })).toEqual({ a: 1 });
  });
});
