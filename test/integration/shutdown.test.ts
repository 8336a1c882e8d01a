import { describe, expect, it } from 'vitest';
import { getJson, postJson, startVigil } from '../helpers/server.js';
import { hasShared, requireShared, sharedPath } from '../helpers/shared.js';

async function inFlightRequests(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('http_requests_in_flight '));
  // The scrape itself is one of them.
  return Number(line?.split(' ')[1] ?? 0) - 1;
}

describe('graceful shutdown', () => {
  it('on SIGTERM: readiness turns 503, the in-flight request finishes, the process exits 0', async () => {
    const server = await startVigil(['--drain-delay-ms', '3000']);
    await server.waitUntilReady();
    expect((await getJson(`${server.url}/ready`)).status).toBe(200);

    // Keep one request in flight: a big batch, sent without waiting for the answer.
    const slow = postJson(`${server.url}/predict`, { texts: Array(64).fill('a long and winding sentence about a film '.repeat(12)) });
    // If the batch finished before we looked, there is nothing in flight to protect; wait until it is seen.
    let seen = false;
    for (let i = 0; i < 200 && !seen; i++) seen = (await inFlightRequests(server.url)) >= 1;

    server.process.kill('SIGTERM');
    await server.waitForLog(/shutting down: readiness is now 503/);
    const ready = await getJson(`${server.url}/ready`);
    expect(ready.status).toBe(503);
    expect(ready.body).toMatchObject({ ready: false, reason: 'shutting down' });
    // Liveness is not readiness: the process is still alive while it drains.
    expect((await getJson(`${server.url}/alive`)).status).toBe(200);

    const answer = await slow;
    expect(answer.status).toBe(200);
    expect(answer.body.predictions).toHaveLength(64);
    expect(await server.exited).toBe(0);
    expect(server.logs.some((l) => l.includes('"msg":"stopped"'))).toBe(true);
  });

  it('exits after SIGTERM even when the reader of its stdout has gone (a closed log pipe)', async () => {
    const server = await startVigil(['--no-embedded', '--model', 'models/sentiment']);
    await server.waitUntilReady();
    server.process.kill('SIGTERM');
    await server.waitForLog(/shutting down: readiness is now 503/);
    // The log's reader goes away mid-shutdown: the last lines ("stopped") meet a broken pipe.
    // Left to pino's synchronous flush at exit, that write was retried forever.
    server.process.stdout!.destroy();
    const exited = await Promise.race([server.exited, new Promise((resolve) => setTimeout(() => resolve('still running after 20 s'), 20_000))]);
    if (exited === 'still running after 20 s') server.process.kill('SIGKILL');
    expect(exited).toBe(0);
  }, 60_000);

  it.skipIf(!(hasShared && requireShared('models/distilbert-arch-random', 'shutdown during a transformer batch')))(
    'finishes a transformer batch that is running when SIGTERM arrives',
    async () => {
      const server = await startVigil(['--no-embedded', '--model', sharedPath('models', 'distilbert-arch-random')]);
      await server.waitUntilReady();
      const slow = postJson(`${server.url}/predict`, { texts: Array(8).fill('the quick brown fox jumps over the lazy dog '.repeat(4)) });
      let seen = false;
      for (let i = 0; i < 200 && !seen; i++) seen = (await inFlightRequests(server.url)) >= 1;
      expect(seen).toBe(true);
      server.process.kill('SIGTERM');
      const answer = await slow;
      expect(answer.status).toBe(200);
      expect(answer.body.predictions).toHaveLength(8);
      expect(await server.exited).toBe(0);
    },
  );
});
