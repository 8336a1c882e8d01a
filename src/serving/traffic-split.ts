import { createHash } from 'node:crypto';

/**
 * Where a request falls in [0, 1) for a traffic split, from a hash rather than a random draw:
 * the same key always lands at the same point, so a caller who sends the same route key stays on
 * one version, every replica decides alike, and tests can predict the split exactly. Requests
 * without a route key are split by their request id (random unless the caller sends one).
 *
 * The split name and the target version are hashed in, so the canary and the shadow choose
 * independently, and the next challenger's first 10% are not the same people as the last one's.
 * Raising a weight only adds keys: every point below 0.1 is also below 0.2.
 */
export function splitPoint(split: 'canary' | 'shadow', model: string, version: string, key: string): number {
  const digest = createHash('sha256').update(`${split}\u0000${model}\u0000${version}\u0000${key}`, 'utf8').digest();
  // 48 bits: readUIntBE's limit, and far finer than any weight anyone sets.
  return digest.readUIntBE(0, 6) / 2 ** 48;
}
