/**
 * A call's fields plus an abort signal made only when something reads it: local models never
 * do, and an AbortController with a close listener for every request to a small model costs a
 * few percent of the server thread. The calls that cross the layers (HTTP and gRPC adapters,
 * dataplane, router) are made with this instead of an object literal with `get signal()`:
 *
 * V8 allocates a literal's accessor pair in old space, so the getter's closure, and all it
 * captures (the reply, the request, the whole request graph), is held from old space until the
 * next full GC: it survives every scavenge and is promoted. On the inference routes that was
 * ~4 KB of each request (1.5-2.7 MB promoted per scavenge at 300-1,000 requests/s, scavenges
 * of 3.5-4 ms, and old space filling for the next mark-compact), where a GET route promotes a
 * few KB per scavenge. A class keeps the getter on its prototype, made once. (Measured with
 * `node --trace-gc-nvp`: the `promoted=` field of each scavenge.)
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
