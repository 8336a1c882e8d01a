/**
 * Environment that every launcher Vigil ships gives `vigil serve`: the container image
 * (deploy/docker/Dockerfile, so also compose, Fly.io and Kubernetes), the systemd units and the
 * benchmarks (src/ops/bench/spawn.ts). glibc reads it when the process starts, so the server
 * cannot set it on itself; test/unit/serve-environment.test.ts keeps the launchers in step.
 *
 * MALLOC_MMAP_THRESHOLD_: glibc serves allocations of 128 KiB and more with mmap (given back to
 * the system on free) but, by default, raises that threshold (up to 32 MiB) each time such a
 * block is freed. onnxruntime frees its large model-loading buffers just before it allocates a
 * session's weights, which then land in heap arenas that are never given back: a DistilBERT
 * int8 server held 228-260 MiB at /ready (bimodal) and 265-291 MiB under load. Pinned at
 * glibc's own default, it holds 205-209 and 240-247 MiB, with no measurable cost in speed
 * (docs/performance.md, "Memory"). Ignored by other C libraries (musl, macOS).
 *
 * NODE_OPTIONS=--max-semi-space-size=8: V8 sizes its young generation from the heap limit, and
 * since Node 22 lets it grow to 64 MiB per semi-space on a machine with a few GiB or more (the
 * new space reached 128 MiB under load on Node 24 here). Held at 16 MiB, Node 20's size, a
 * default server under 64 connections held 322-332 MiB RSS instead of 389-400 (2026-12-02); at
 * 8 MiB a DistilBERT server's peak is 249-251 MiB instead of 262 and a default server's 239-241
 * instead of 243-247. The price is more scavenges: GC time per sentiment request 3.3-3.6 µs
 * instead of 2.0-2.4 at 32 connections (~1 % of the request), 7.2-8.8 instead of 4.5-5.7 at 1,000;
 * requests/s stayed within the noise. 4 MiB cost sentiment 15 %; 12 is rounded up to 16
 * (2026-12-04, docs/performance.md, "Memory"). V8 reads it at start.
 */
export const SERVE_ENVIRONMENT: Readonly<Record<string, string>> = {
  MALLOC_MMAP_THRESHOLD_: '131072',
  NODE_OPTIONS: '--max-semi-space-size=8',
};
