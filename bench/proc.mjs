// What the bench scripts share: a free loopback port, a process's CPU time from /proc, and waiting for a server to answer.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

const CLOCK_TICK = 100; // USER_HZ on Linux

export const freePort = () =>
  new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

/** CPU seconds (utime + stime) of process `pid`, all its threads; with `mainThread`, its main thread (the event loop) alone. */
export function cpuSeconds(pid, { mainThread = false } = {}) {
  const file = mainThread ? `/proc/${pid}/task/${pid}/stat` : `/proc/${pid}/stat`;
  const fields = readFileSync(file, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICK;
}

/** Polls `url` every `everyMs` (100) until it answers `status` (a server starting up); gives up after a minute. */
export async function waitFor(url, status, everyMs = 100) {
  const deadline = performance.now() + 60_000;
  while (performance.now() < deadline) {
    try {
      if ((await fetch(url)).status === status) return;
    } catch {}
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`${url} never answered ${status}`);
}
