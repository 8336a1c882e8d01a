import { randomFillSync } from 'node:crypto';

/**
 * Row ids by request id for the in-memory prediction log: an open-addressing hash table in typed
 * arrays (linear probing, backward-shift deletion), holding each row's id and its key's hash.
 *
 * Why not a Map<string, id>: at the log's 100,000 rows a Map insert plus the delete of the row
 * that leaves cost ~1 µs per prediction (measured alone), most of it V8's hash table of
 * pointers: every new request id stored in an old-generation table is a pointer the young
 * generation's collections must trace. Here the table holds numbers only, and the keys stay
 * where they already are, in the rows: `keyOf(id)` reads them back to confirm a match.
 *
 * A key may have several ids (a batch has one row per input; a client may reuse a request id).
 * The hash is seeded per process, so request ids chosen by a client cannot be aimed at one chain.
 */
export class RequestIdIndex {
  /** Row id per slot; 0 is an empty slot (ids start at 1). Float64: ids pass 2^31 within days at 10k/s. */
  private ids: Float64Array;
  /** The key's hash per slot, kept so that growing and deleting never hash a key again. */
  private hashes: Uint32Array;
  private mask: number;
  private used = 0;
  private readonly seed: number;

  constructor(
    private readonly keyOf: (id: number) => string | undefined,
    initialCapacity = 1024,
  ) {
    const capacity = 2 ** Math.ceil(Math.log2(Math.max(16, initialCapacity)));
    this.ids = new Float64Array(capacity);
    this.hashes = new Uint32Array(capacity);
    this.mask = capacity - 1;
    this.seed = randomFillSync(new Uint32Array(1))[0]!;
  }

  get size(): number {
    return this.used;
  }

  add(key: string, id: number): void {
    // At most half full: probe chains stay short.
    if ((this.used + 1) * 2 > this.ids.length) this.grow();
    const hash = this.hash(key);
    let slot = hash & this.mask;
    while (this.ids[slot] !== 0) slot = (slot + 1) & this.mask;
    this.ids[slot] = id;
    this.hashes[slot] = hash;
    this.used++;
  }

  /** Every id added under `key` and not deleted, in no particular order. */
  find(key: string): number[] {
    const found: number[] = [];
    const hash = this.hash(key);
    for (let slot = hash & this.mask; this.ids[slot] !== 0; slot = (slot + 1) & this.mask) {
      if (this.hashes[slot] === hash && this.keyOf(this.ids[slot]!) === key) found.push(this.ids[slot]!);
    }
    return found;
  }

  /** Removes one id added under `key`; an id under another key, or none, is left alone. */
  delete(key: string, id: number): void {
    const hash = this.hash(key);
    let slot = hash & this.mask;
    while (this.ids[slot] !== id || this.hashes[slot] !== hash) {
      if (this.ids[slot] === 0) return;
      slot = (slot + 1) & this.mask;
    }
    this.used--;
    // Backward shift: move up every later entry of the run whose home slot is not between the
    // hole and it, so that no lookup meets an empty slot before its entry.
    let hole = slot;
    for (let next = (hole + 1) & this.mask; this.ids[next] !== 0; next = (next + 1) & this.mask) {
      const home = this.hashes[next]! & this.mask;
      const stays = hole <= next ? hole < home && home <= next : hole < home || home <= next;
      if (stays) continue;
      this.ids[hole] = this.ids[next]!;
      this.hashes[hole] = this.hashes[next]!;
      hole = next;
    }
    this.ids[hole] = 0;
    this.hashes[hole] = 0;
  }

  private grow(): void {
    const ids = this.ids;
    const hashes = this.hashes;
    this.ids = new Float64Array(ids.length * 2);
    this.hashes = new Uint32Array(ids.length * 2);
    this.mask = this.ids.length - 1;
    for (let i = 0; i < ids.length; i++) {
      if (ids[i] === 0) continue;
      let slot = hashes[i]! & this.mask;
      while (this.ids[slot] !== 0) slot = (slot + 1) & this.mask;
      this.ids[slot] = ids[i]!;
      this.hashes[slot] = hashes[i]!;
    }
  }

  /** FNV-1a over the UTF-16 code units from a random basis, with a final mix for the low bits the mask keeps. */
  private hash(key: string): number {
    let h = this.seed ^ 0x811c9dc5;
    for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    return h >>> 0;
  }
}
