import { readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postHead, rawConnect, type RawConnection } from '../helpers/raw-http.js';
import { startVigil, type VigilProcess } from '../helpers/server.js';
import { closedLoop, count, errorCount, report, round, seconds, SENTIMENT_BODIES } from './harness.js';

/**
 * Slow and silent clients: hundreds of connections that send nothing, trickle their headers or
 * withhold their body, while a well-behaved client keeps predicting. The server's timeouts are
 * shortened (a few seconds, as flags) so the scenario is short; the defaults are in the README.
 */

const HOSTILE = Number(process.env.RELIABILITY_SLOW_CLIENTS ?? 300);
let server: VigilProcess;

beforeAll(async () => {
  server = await startVigil(['--headers-timeout-ms', '2000', '--request-timeout-ms', '4000']);
  await server.waitUntilReady();
});
afterAll(async () => {
  await server?.stop();
});

const openFds = (pid: number) => readdirSync(`/proc/${pid}/fd`).length;

describe('slow and silent clients', () => {
  it(`${HOSTILE} silent, ${HOSTILE} trickling and ${HOSTILE} body-withholding connections are cut off with 408 while others are served`, async () => {
    const pid = server.process.pid!;
    const fdsBefore = openFds(pid);
    const body = SENTIMENT_BODIES[0]!;
    const hostile: RawConnection[] = [];
    const timers: NodeJS.Timeout[] = [];
    for (let i = 0; i < HOSTILE; i++) {
      hostile.push(await rawConnect(server.url)); // silent
      const trickle = await rawConnect(server.url);
      trickle.write('POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\n');
      timers.push(setInterval(() => trickle.write('X-Slow: 1\r\n'), 500));
      hostile.push(trickle);
      const withhold = await rawConnect(server.url);
      withhold.write(postHead('/predict', Buffer.byteLength(body)) + body.slice(0, 4));
      hostile.push(withhold);
    }
    const fdsWithHostile = openFds(pid);
    // A well-behaved client meanwhile.
    const served = await closedLoop({ url: server.url, path: '/predict', bodies: SENTIMENT_BODIES }, 8, seconds(6));
    const ends = await Promise.all(hostile.map((c) => c.closed));
    timers.forEach(clearInterval);
    const got408 = (c: RawConnection) => / 408 /.test(c.received().split('\r\n')[0] ?? '');
    const answered408 = hostile.filter(got408).length;
    const byKind = ['silent', 'trickling', 'withholding'].map((kind, k) => [kind, hostile.filter((c, i) => i % 3 === k && !got408(c)).map((c) => c.received().slice(0, 40))] as const);
    for (let i = 0; i < 100 && openFds(pid) > fdsBefore + 5; i++) await new Promise((r) => setTimeout(r, 50));
    const fdsAfter = openFds(pid);
    report('slow-clients', {
      hostile_connections: hostile.length,
      answered_408: answered408,
      without_408: Object.fromEntries(byKind.map(([kind, list]) => [kind, { count: list.length, first: list[0] }])),
      closed_clean: ends.filter((e) => e === 'end').length,
      fds_before: fdsBefore,
      fds_with_hostile: fdsWithHostile,
      fds_after: fdsAfter,
      served_ok: count(served, 200),
      served_rps: round(count(served, 200) / served.seconds),
      served_errors: errorCount(served),
    });
    // Every one was closed by the server. Silent and withholding clients all read a 408; a
    // trickling client that writes its next header line as the server closes may see the
    // close as a reset instead of reading the 408 (its own write crossed the close).
    expect(ends.length).toBe(hostile.length);
    expect(byKind[0]![1].length).toBe(0);
    expect(byKind[2]![1].length).toBe(0);
    expect(answered408).toBeGreaterThanOrEqual(hostile.length * 0.95);
    expect(fdsAfter).toBeLessThanOrEqual(fdsBefore + 5);
    expect(errorCount(served)).toBe(0);
    expect(count(served, 200)).toBeGreaterThan(0);
    expect(served.latencies.size).toBe(1);
  });
});
