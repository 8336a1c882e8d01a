import { setFlagsFromString } from 'node:v8';

/**
 * V8's allocation-site pretenuring for the serving process, turned off. V8 watches which
 * allocation sites' objects survive scavenges and, past a threshold, allocates that site's
 * objects straight in old space. Under load, sites on a request's path cross it (a burst keeps a
 * few hundred calls in flight), and from then on each of their objects is born old: whatever
 * it points to (the call's closures, buffers, the request and reply) is held from old space at
 * every scavenge, survives it and is promoted, to be found dead only by the next mark-compact.
 *
 * Measured (2026-12-02, `node --trace-gc-nvp`, sentiment at 1,000 calls/s, one at a time):
 * gRPC ModelInfer promoted 1.3 MB per scavenge with pretenuring and 5-13 KB without; scavenge
 * pauses 3.6-4.1 ms against 0.5-1.2 ms. A V8 flag, not allowed in NODE_OPTIONS, so it is set here,
 * before the server starts and before any site has been judged; the cost is that data built once
 * at start-up (vocabularies, model metadata) is copied through the young generation once more.
 */
export function turnOffAllocationSitePretenuring(): void {
  setFlagsFromString('--no-allocation-site-pretenuring');
}
