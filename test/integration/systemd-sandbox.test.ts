/**
 * Both systemd units start their ExecStart under their own sandbox. No service manager runs in
 * this container, so test/helpers/systemd-sandbox.ts rebuilds each unit's sandbox from the unit
 * file itself with bubblewrap (mount namespace: ProtectSystem=strict, ProtectHome, PrivateTmp,
 * PrivateDevices, ReadWritePaths, State/CacheDirectory; user namespace for User=; no capabilities)
 * and one seccomp program (RestrictAddressFamilies=, SystemCallFilter=@system-service from
 * `systemd-analyze syscall-filter`, SystemCallErrorNumber=). The server must then answer /ready,
 * predict, write its prediction log where the unit says, be unable to write anywhere else, and
 * stop with exit 0 on SIGTERM. The units' old settings are run too: they must fail as the issue
 * reported (errno 97 at listen; a read-only prediction log), which shows the harness can fail.
 * `systemd-analyze verify` and `security` run in test/unit/deploy-systemd.test.ts.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI, REPO_ROOT } from '../helpers/server.js';
import { canModelSeccomp, hasBubblewrap, sandboxPlan, writeSeccomp, type SandboxOptions } from '../helpers/systemd-sandbox.js';

const UNITS = path.join(REPO_ROOT, 'deploy', 'systemd');
const scratchRoot = mkdtempSync(path.join(tmpdir(), 'vigil-systemd-sandbox-'));
afterAll(() => rmSync(scratchRoot, { recursive: true, force: true }));

const usable = hasBubblewrap() && canModelSeccomp() && existsSync(CLI);
if (!usable) console.warn('[skipped] needs bubblewrap, systemd-analyze, the x86_64 kernel headers (linux-libc-dev) and a built dist/: the units were not started under their sandbox');

const freePort = () =>
  new Promise<number>((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });

interface Started {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
  writable: Record<string, string>;
  port: number;
  unmodelled: string[];
  argv: string[];
  /** Runs a command in a copy of the same sandbox (same mounts, user and seccomp). */
  inside: (argv: string[]) => { status: number | null; stderr: string };
}

let counter = 0;
async function startUnit(unit: string, options: Omit<SandboxOptions, 'repoRoot' | 'scratch' | 'port' | 'grpcPort'> = {}): Promise<Started> {
  const scratch = path.join(scratchRoot, `${unit}-${++counter}`);
  const port = await freePort();
  const grpcPort = await freePort();
  const plan = sandboxPlan(readFileSync(path.join(UNITS, unit), 'utf8'), { ...options, repoRoot: REPO_ROOT, scratch, port, grpcPort });
  const bpf = writeSeccomp(plan, scratchRoot);
  const fd = openSync(bpf, 'r');
  // --info-fd gives the sandboxed process's pid: bubblewrap does not forward SIGTERM to it.
  const argv = [plan.argv[0]!, '--info-fd', '4', ...plan.argv.slice(1)];
  const child = spawn(argv[0]!, argv.slice(1), { env: plan.env, stdio: ['ignore', 'pipe', 'pipe', fd, 'pipe'] });
  closeSync(fd);
  let out = '';
  let info = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  (child.stdio[4] as NodeJS.ReadableStream).on('data', (c: Buffer) => (info += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  (child as ChildProcess & { sandboxPid?: () => number | undefined }).sandboxPid = () => {
    const m = /"child-pid":\s*(\d+)/.exec(info);
    return m ? Number(m[1]) : undefined;
  };
  const inside = (cmd: string[]) => {
    const probeArgs = plan.argv.slice(1, plan.argv.indexOf('--'));
    const probeFd = openSync(bpf, 'r');
    const r = spawnSync('bwrap', [...probeArgs, '--', ...cmd], { env: plan.env, stdio: ['ignore', 'pipe', 'pipe', probeFd], encoding: 'utf8' });
    closeSync(probeFd);
    return { status: r.status, stderr: r.stderr };
  };
  return { child, output: () => out, exited, writable: plan.writable, port, unmodelled: plan.unmodelled, inside, argv };
}

async function waitReady(s: Started, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exitCode: number | null | undefined;
  void s.exited.then((code) => (exitCode = code));
  while (Date.now() < deadline) {
    if (exitCode !== undefined) throw new Error(`the server exited with ${exitCode} under the sandbox:\n${s.output().slice(-3000)}`);
    try {
      const res = await fetch(`http://127.0.0.1:${s.port}/ready`);
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`not ready after ${timeoutMs} ms:\n${s.output().slice(-3000)}`);
}

async function stop(s: Started): Promise<number | null> {
  if (s.child.exitCode !== null || s.child.signalCode !== null) return s.child.exitCode;
  const pid = (s.child as ChildProcess & { sandboxPid?: () => number | undefined }).sandboxPid?.();
  try {
    if (pid) process.kill(pid, 'SIGTERM');
    else s.child.kill('SIGKILL');
  } catch {
    // already gone
  }
  const code = await Promise.race([s.exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 30_000))]);
  if (code === 'timeout') {
    s.child.kill('SIGKILL');
    return s.exited;
  }
  return code;
}

async function predict(port: number): Promise<{ label: string }> {
  const res = await fetch(`http://127.0.0.1:${port}/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: 'I am so happy today!' }) });
  expect(res.status).toBe(200);
  return (await res.json()) as { label: string };
}

describe.skipIf(!usable)('vigil.service under its own sandbox', () => {
  it('starts, answers, logs predictions to its StateDirectory only, and stops with 0 on SIGTERM', async () => {
    const s = await startUnit('vigil.service');
    try {
      await waitReady(s);
      expect((await predict(s.port)).label).toBe('POSITIVE');
      // Only the unit's writable paths are writable; the app and the rest of the system are not.
      expect(s.inside(['/bin/sh', '-c', 'touch /opt/vigil/app/x']).status).not.toBe(0);
      expect(s.inside(['/bin/sh', '-c', 'touch /etc/x']).status).not.toBe(0);
      expect(s.inside(['/bin/sh', '-c', 'touch /var/lib/vigil/x && rm /var/lib/vigil/x']).status).toBe(0);
      // User=vigil: not root inside.
      expect(s.inside(['/bin/sh', '-c', 'test "$(id -u)" != 0']).status).toBe(0);
      // ProtectHome=yes: nothing of /root is visible.
      expect(s.inside(['/bin/sh', '-c', 'test -z "$(ls -A /root)"']).status).toBe(0);
    } finally {
      expect(await stop(s)).toBe(0);
    }
    expect(existsSync(path.join(s.writable['/var/lib/vigil']!, 'predictions.sqlite'))).toBe(true);
    // Node's compile cache in the state directory, where the next restart finds it (PrivateTmp's /tmp goes).
    expect(readdirSync(path.join(s.writable['/var/lib/vigil']!, 'cache', 'node-compile-cache')).length).toBeGreaterThan(0);
    // What the harness leaves to a real systemd, named so a reader knows.
    expect(s.unmodelled.sort()).toEqual(
      ['LockPersonality', 'ProtectClock', 'ProtectControlGroups', 'ProtectHostname', 'ProtectKernelLogs', 'ProtectKernelModules', 'ProtectKernelTunables', 'RestrictNamespaces', 'RestrictRealtime', 'RestrictSUIDSGID', 'UMask'].sort(),
    );
  });

  it('with the old RestrictAddressFamilies (no AF_NETLINK) it dies at listen with errno 97, as reported', async () => {
    const s = await startUnit('vigil.service', { families: ['AF_UNIX', 'AF_INET', 'AF_INET6'] });
    const code = await Promise.race([s.exited, new Promise<'running'>((r) => setTimeout(() => r('running'), 60_000))]);
    if (code === 'running') await stop(s);
    expect(code).not.toBe('running');
    expect(code).not.toBe(0);
    expect(s.output()).toMatch(/uv_interface_addresses|EAFNOSUPPORT|errno 97|Address family not supported/i);
  });
});

describe.skipIf(!usable)('vigil-user.service under its own sandbox', () => {
  const home = '/home/vigil-user';

  it('starts with its home read-only, keeps the prediction log in its StateDirectory, stops with 0', async () => {
    const s = await startUnit('vigil-user.service', { home });
    try {
      await waitReady(s);
      expect((await predict(s.port)).label).toBe('POSITIVE');
      expect(s.inside(['/bin/sh', '-c', `touch ${home}/x`]).status).not.toBe(0);
      expect(s.inside(['/bin/sh', '-c', `touch ${home}/.local/state/vigil/x && touch ${home}/.cache/vigil/x`]).status).toBe(0);
    } finally {
      expect(await stop(s)).toBe(0);
    }
    expect(existsSync(path.join(s.writable[`${home}/.local/state/vigil`]!, 'predictions.sqlite'))).toBe(true);
    expect(readdirSync(path.join(s.writable[`${home}/.cache/vigil`]!, 'node-compile-cache')).length).toBeGreaterThan(0);
  });

  it('without StateDirectory= (the old unit) the prediction log cannot be opened under ProtectHome=read-only', async () => {
    const s = await startUnit('vigil-user.service', { home, withoutStateDirectory: true });
    const code = await Promise.race([s.exited, new Promise<'running'>((r) => setTimeout(() => r('running'), 60_000))]);
    if (code === 'running') await stop(s);
    expect(code).not.toBe('running');
    expect(code).not.toBe(0);
    expect(s.output()).toMatch(/predictions\.sqlite|read-only|EROFS|unable to open|directory does not exist/i);
  });
});
