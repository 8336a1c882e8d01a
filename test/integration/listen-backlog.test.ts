import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { startVigil, type VigilProcess } from '../helpers/server.js';

/**
 * The listen backlog as the kernel holds it: `ss -ltn` shows a listening socket's accept-queue
 * limit in its Send-Q column. Node's default (511) drops the SYNs of a burst of new connections
 * past it, and each of those clients waits 1 s for its retransmission (docs/reliability.md).
 */

const ss = (() => {
  try {
    execFileSync('ss', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
if (!ss) console.warn('listen-backlog.test.ts: skipped, `ss` (iproute2) is not installed');

const somaxconn = Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8'));

/** The accept-queue limit of the socket listening on `port`. */
function backlogOf(port: number): number {
  const line = execFileSync('ss', ['-ltnH', `sport = :${port}`], { encoding: 'utf8' }).trim().split('\n')[0] ?? '';
  // State Recv-Q Send-Q Local:Port Peer:Port; for a listener Send-Q is the backlog.
  return Number(line.trim().split(/\s+/)[2]);
}

let server: VigilProcess | undefined;
afterEach(async () => {
  await server?.stop();
  server = undefined;
});

describe.skipIf(!ss)('listen backlog', () => {
  it('is 4096 by default (as far as net.core.somaxconn allows), not Node’s 511', async () => {
    server = await startVigil([]);
    expect(backlogOf(Number(new URL(server.url).port))).toBe(Math.min(4096, somaxconn));
  });

  it('follows --listen-backlog and VIGIL_LISTEN_BACKLOG', async () => {
    server = await startVigil(['--listen-backlog', '300']);
    expect(backlogOf(Number(new URL(server.url).port))).toBe(Math.min(300, somaxconn));
    await server.stop();
    server = await startVigil([], { VIGIL_LISTEN_BACKLOG: '200' });
    expect(backlogOf(Number(new URL(server.url).port))).toBe(Math.min(200, somaxconn));
  });
});
