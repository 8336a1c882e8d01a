import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startVigil, type VigilProcess } from '../helpers/server.js';

/**
 * No request's object graph outlives its request by a scavenge. V8 reports each scavenge's
 * promoted bytes under --trace-gc-nvp; at 500 requests/s one at a time, what survives a scavenge
 * should be the few requests in flight, a few KB. A request graph held from old space (an
 * object literal with a getter on the call, a property added to the call after it was made:
 * src/serving/lazy-signal.ts; allocation sites V8 pretenures: src/config/gc-tuning.ts) made
 * every request survive: 1.3-2.7 MB per scavenge, scavenge pauses of 3.5-4 ms instead of 0.5.
 * Counted in bytes, not timed: the figure does not depend on the machine's speed as long as the
 * server keeps up with 500 requests/s.
 */

const RATE = 500;
const SECONDS = 6;
let server: VigilProcess;

beforeAll(async () => {
  server = await startVigil(['--no-embedded', '--model', 'models/sentiment'], {}, { nodeArgs: ['--max-semi-space-size=8', '--trace-gc-nvp'] });
  await server.waitUntilReady();
});
afterAll(async () => {
  await server?.stop();
});

/** `send` called evenly spaced (an open loop); resolves with the outcomes counted. */
async function openLoop(send: () => Promise<number>): Promise<Record<number, number>> {
  const outcomes: Record<number, number> = {};
  const total = RATE * SECONDS;
  const started = performance.now();
  const pending: Promise<void>[] = [];
  let sent = 0;
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - started) * RATE) / 1000) + 1);
    for (; sent < due; sent++) pending.push(send().then((outcome) => void (outcomes[outcome] = (outcomes[outcome] ?? 0) + 1)));
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  await Promise.all(pending);
  return outcomes;
}

function restPost(agent: http.Agent, path: string, body: string): () => Promise<number> {
  return () =>
    new Promise<number>((resolve) => {
      const request = http.request(`${server.url}${path}`, { method: 'POST', agent, headers: { 'content-type': 'application/json' } }, (response) => {
        response.resume();
        response.on('end', () => resolve(response.statusCode ?? 0));
      });
      request.on('error', () => resolve(-1));
      request.end(body);
    });
}

const TEXT = 'a thoroughly enjoyable film';

/** `promoted=` of every scavenge logged after line `from`. */
function promotedSince(from: number): number[] {
  return server.logs
    .slice(from)
    .filter((line) => line.includes('gc=s'))
    .map((line) => Number(/promoted=(\d+)/.exec(line)?.[1] ?? NaN))
    .filter(Number.isFinite);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

describe('request objects die young', () => {
  it.each([
    ['the JSON API', 200, (agent: http.Agent) => restPost(agent, '/v1/models/sentiment/predict', JSON.stringify({ text: TEXT }))],
    ['OIP REST', 200, (agent: http.Agent) => restPost(agent, '/v2/models/sentiment/infer', JSON.stringify({ inputs: [{ name: 'text', datatype: 'BYTES', shape: [1], data: [TEXT] }] }))],
    // Not gRPC: from a fresh start its scavenges promote ~1.3 MB each until TurboFan has
    // optimized its path (~12 s at 500 calls/s; forever under --no-opt), then a few KB
    // (docs/performance.md, "Garbage collection").
  ] as const)('%s: a scavenge promotes a few KB, not every request of its interval', async (_label, ok, sender) => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
    const from = server.logs.length;
    const outcomes = await openLoop(sender(agent));
    agent.destroy();
    expect(outcomes).toEqual({ [ok]: RATE * SECONDS });
    // The first scavenges of a run also promote what start-up left young.
    const steady = promotedSince(from).slice(2);
    expect(steady.length, 'scavenges during the run').toBeGreaterThanOrEqual(3);
    expect(median(steady), `promoted bytes per scavenge: ${steady.join(', ')}`).toBeLessThan(256 * 1024);
  });
});
