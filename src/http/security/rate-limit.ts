/**
 * Token buckets per client: `perMinute` units a minute, with bursts up to `perMinute`. Memory
 * stays bounded: a full bucket is the same as none, so idle clients are dropped, and past
 * `maxClients` the least recently seen go first.
 */
export class ClientRateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly perMs: number;

  constructor(
    readonly perMinute: number,
    private readonly now: () => number = Date.now,
    private readonly maxClients = 10_000,
  ) {
    this.perMs = perMinute / 60_000;
  }

  /** Takes `units` from the client's bucket: 0 when allowed, else the seconds until they would be. */
  take(client: string, units: number): number {
    const now = this.now();
    const bucket = this.buckets.get(client);
    const tokens = bucket ? Math.min(this.perMinute, bucket.tokens + (now - bucket.at) * this.perMs) : this.perMinute;
    if (tokens < units) {
      if (bucket) {
        bucket.tokens = tokens;
        bucket.at = now;
      }
      return Math.max(1, Math.ceil((units - tokens) / this.perMs / 1000));
    }
    // Re-inserted so the Map's order is least recently seen first.
    this.buckets.delete(client);
    this.buckets.set(client, { tokens: tokens - units, at: now });
    if (this.buckets.size > this.maxClients) this.prune(now);
    return 0;
  }

  get clients(): number {
    return this.buckets.size;
  }

  private prune(now: number): void {
    for (const [client, bucket] of this.buckets) {
      if (bucket.tokens + (now - bucket.at) * this.perMs >= this.perMinute) this.buckets.delete(client);
    }
    for (const client of this.buckets.keys()) {
      if (this.buckets.size <= this.maxClients) break;
      this.buckets.delete(client);
    }
  }
}
