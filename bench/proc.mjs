// What the bench scripts share: a free loopback port, and a process's CPU time from /proc.
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
