/**
 * A call's fields plus an abort signal made only when something reads it: local models never
 * do, and an AbortController with a close listener for every request to a small model costs a
 * few percent of the server thread. The calls that cross the layers (HTTP and gRPC adapters,
 * dataplane, router) are made with this, whole, instead of as object literals with
 * `get signal()` or with properties added afterwards.
 *
 * Measured (`node --trace-gc-nvp`, the `promoted=` of each scavenge; the test is
 * test/integration/gc-retention.test.ts): with a literal's getter, or with `onRoute` assigned to
 * the call after it was made, every inference request's graph (the reply, the request, the
 * call) survived its scavenge and was promoted: 1.3-2.7 MB per scavenge at 300-1,000
 * requests/s, scavenges of 3.5-4 ms, and old space filling for the next mark-compact. With a
 * class whose getter is on its prototype and every field given at construction: 5-30 KB and
 * 0.5 ms. The likely mechanism is V8 placing what a literal's accessor or a later property
 * needs in old space, whose pointers to the young closure keep it alive at a scavenge; the
 * graph is gone by the next full GC (a heap snapshot under load shows none of it).
 */
class LazySignal<S extends AbortSignal | undefined> {
  // ES private fields: not own enumerable properties, so the call's keys are its fields only.
  #make: () => S;
  #made = false;
  #value: S | undefined;

  constructor(make: () => S) {
    this.#make = make;
  }

  get signal(): S {
    if (!this.#made) {
      this.#made = true;
      this.#value = this.#make();
    }
    return this.#value as S;
  }
}

/**
 * `fields` with `signal` made by `make` on first read, then kept. The result must not be
 * spread: the getter is not an own property, so a spread would drop the signal; derive a call
 * with `withLazySignal({ ...fieldsOf(call), more }, () => call.signal)` (router.ts does, for a
 * fallback).
 */
export function withLazySignal<T extends object, S extends AbortSignal | undefined>(fields: T & { signal?: never }, make: () => S): T & { readonly signal: S } {
  return Object.assign(new LazySignal(make), fields);
}

/** A call's own fields without its signal, for deriving another call; the signal is not read. */
export function fieldsOf<T extends object>(call: T): Omit<T, 'signal'> {
  const fields: Record<string, unknown> = {};
  for (const key of Object.keys(call)) if (key !== 'signal') fields[key] = (call as Record<string, unknown>)[key];
  return fields as Omit<T, 'signal'>;
}
