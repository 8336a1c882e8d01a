/**
 * The systemd units: `systemd-analyze verify` where it works (it needs no running systemd for
 * system units), then the settings that matter read from the files, and the flags each
 * ExecStart passes checked against the real CLI's --help.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI, REPO_ROOT } from '../helpers/server.js';
import { parseUnit, words } from '../helpers/systemd-sandbox.js';

const DIR = path.join(REPO_ROOT, 'deploy', 'systemd');
const UNITS = ['vigil.service', 'vigil-user.service', 'vigil-watchdog.service', 'vigil-watchdog.timer'];

const read = (name: string) => readFileSync(path.join(DIR, name), 'utf8');
const units = Object.fromEntries(UNITS.map((u) => [u, parseUnit(read(u))])) as Record<string, Unit>;
const one = (unit: string, section: string, key: string) => units[unit]![section]?.[key]?.at(-1);

const analyzeWorks = spawnSync('systemd-analyze', ['--version']).status === 0;
if (!analyzeWorks) console.warn('[skipped] systemd-analyze is not installed: unit files only parse-checked');

describe.skipIf(!analyzeWorks)('systemd-analyze verify', () => {
  it.each(UNITS)('%s verifies with no warnings', (unit) => {
    // Verified as system units: `--user` verification needs a user manager this sandbox lacks.
    const run = spawnSync('systemd-analyze', ['verify', '--man=no', path.join(DIR, unit)], { encoding: 'utf8' });
    const output = (run.stdout + run.stderr).split('\n').filter((l) => l && !/Failed to (lookup|initialize|connect)|No such device or address/.test(l));
    expect(output).toEqual([]);
    expect(run.status).toBe(0);
  });

  it('catches a broken unit (so the check above can fail)', () => {
    const broken = path.join(REPO_ROOT, 'test-artifacts', 'broken-vigil.service');
    spawnSync('mkdir', ['-p', path.dirname(broken)]);
    spawnSync('sh', ['-c', `sed 's/^Restart=always/Restart=sometimes/' '${path.join(DIR, 'vigil.service')}' > '${broken}'`]);
    const run = spawnSync('systemd-analyze', ['verify', '--man=no', broken], { encoding: 'utf8' });
    expect(run.stdout + run.stderr).toMatch(/restart specifier/);
  });
});

describe.skipIf(!analyzeWorks)('systemd-analyze security', () => {
  // Exposure from 0 (locked down) to 10; `--offline=yes` reads the file, no manager needed. User
  // units cannot use the mount and kernel protections a system unit has, hence their own bound.
  it.each([
    ['vigil.service', 2.5],
    ['vigil-user.service', 6.5],
    // Root on purpose (it restarts vigil.service and may reinstall the release): a regression bound.
    ['vigil-watchdog.service', 8.5],
  ])('%s scores at most %s', (unit, threshold) => {
    const run = spawnSync('systemd-analyze', ['security', '--offline=yes', `--threshold=${threshold * 10}`, path.join(DIR, unit)], { encoding: 'utf8' });
    const score = /Overall exposure level for \S+: ([\d.]+)/.exec(run.stdout + run.stderr);
    expect(score, run.stdout + run.stderr).not.toBeNull();
    expect(Number(score![1])).toBeLessThanOrEqual(threshold);
    expect(run.status).toBe(0);
  });

  it('a unit without hardening scores high and fails the threshold (so the check above can fail)', () => {
    const bare = path.join(REPO_ROOT, 'test-artifacts', 'bare-vigil.service');
    spawnSync('mkdir', ['-p', path.dirname(bare)]);
    spawnSync('sh', ['-c', `printf '[Service]\\nExecStart=/usr/bin/node /opt/vigil/app/dist/cli/main.js serve\\n' > '${bare}'`]);
    const run = spawnSync('systemd-analyze', ['security', '--offline=yes', '--threshold=25', bare], { encoding: 'utf8' });
    expect(Number(/Overall exposure level for \S+: ([\d.]+)/.exec(run.stdout)![1])).toBeGreaterThan(8);
    expect(run.status).not.toBe(0);
  });
});

describe('vigil.service', () => {
  it('allows AF_NETLINK: bound to 0.0.0.0 the server lists the interfaces over netlink (errno 97 without it)', () => {
    for (const unit of ['vigil.service', 'vigil-user.service']) {
      expect(one(unit, 'Service', 'RestrictAddressFamilies')!.split(' ').sort(), unit).toEqual(['AF_INET', 'AF_INET6', 'AF_NETLINK', 'AF_UNIX']);
    }
  });

  it('restarts always, with start limits in [Unit] where systemd reads them', () => {
    expect(one('vigil.service', 'Service', 'Restart')).toBe('always');
    expect(Number(one('vigil.service', 'Service', 'RestartSec'))).toBeGreaterThan(0);
    for (const key of ['StartLimitIntervalSec', 'StartLimitBurst']) {
      expect(one('vigil.service', 'Unit', key), key).toBeDefined();
      expect(one('vigil.service', 'Service', key), `${key} in [Service]`).toBeUndefined();
    }
  });

  it('is hardened, runs as its own user, and reads secrets from a root-only env file', () => {
    const s = units['vigil.service']!.Service!;
    expect(s.User).toEqual(['vigil']);
    expect(s.NoNewPrivileges).toEqual(['yes']);
    expect(s.ProtectSystem).toEqual(['strict']);
    expect(s.ProtectHome).toEqual(['yes']);
    expect(s.PrivateTmp).toEqual(['yes']);
    expect(s.ReadWritePaths).toEqual(['/var/lib/vigil']);
    expect(s.EnvironmentFile).toEqual(['/etc/vigil/vigil.env']);
    expect(s.KillSignal).toEqual(['SIGTERM']);
    // The data dir it may write is the one systemd creates for it, and the cache points there.
    expect(s.StateDirectory).toEqual(['vigil']);
    expect(s.Environment!.join(' ')).toMatch(/VIGIL_CACHE_DIR=\/var\/lib\/vigil\//);
  });

  it('never sets MemoryDenyWriteExecute (it kills V8), and says why', () => {
    for (const unit of UNITS) {
      const text = read(unit);
      expect(text, unit).not.toMatch(/^\s*MemoryDenyWriteExecute\s*=/m);
      if (unit.endsWith('.service')) expect(text, unit).toMatch(/#.*NOT MemoryDenyWriteExecute=yes.*(V8|JIT)/);
    }
  });

  it('holds no secrets in Environment= lines', () => {
    for (const unit of UNITS) expect(read(unit), unit).not.toMatch(/^Environment=.*(TOKEN|SECRET|PASSWORD)/m);
  });
});

describe('vigil-user.service', () => {
  it('is a user unit: default.target, paths under %h, linger documented', () => {
    expect(one('vigil-user.service', 'Install', 'WantedBy')).toBe('default.target');
    expect(one('vigil-user.service', 'Service', 'User')).toBeUndefined();
    expect(one('vigil-user.service', 'Service', 'EnvironmentFile')).toBe('%h/.config/vigil/vigil.env');
    expect(one('vigil-user.service', 'Service', 'Restart')).toBe('always');
    expect(read('vigil-user.service')).toMatch(/loginctl enable-linger/);
  });

  it('keeps the prediction log in its StateDirectory, writable under ProtectHome=read-only', () => {
    expect(one('vigil-user.service', 'Service', 'ProtectHome')).toBe('read-only');
    expect(one('vigil-user.service', 'Service', 'StateDirectory')).toBe('vigil');
    expect(units['vigil-user.service']!.Service!.Environment!.join(' ')).toMatch(/VIGIL_PREDICTION_LOG=%S\/vigil\//);
  });
});

describe('watchdog timer pair', () => {
  it('the timer starts the oneshot watchdog service every minute', () => {
    expect(one('vigil-watchdog.timer', 'Timer', 'Unit')).toBe('vigil-watchdog.service');
    expect(one('vigil-watchdog.timer', 'Install', 'WantedBy')).toBe('timers.target');
    expect(one('vigil-watchdog.service', 'Service', 'Type')).toBe('oneshot');
    expect(one('vigil-watchdog.service', 'Service', 'StateDirectory')).toBe('vigil-watchdog');
  });
});

const helps = new Map<string, string>();
function helpOf(command: string): string {
  if (!helps.has(command)) {
    const run = spawnSync(process.execPath, [CLI, command, '--help'], { encoding: 'utf8' });
    expect(run.status).toBe(0);
    helps.set(command, run.stdout);
  }
  return helps.get(command)!;
}

describe('ExecStart lines use flags the CLI has', () => {
  it.each([
    ['vigil.service', 'serve'],
    ['vigil-user.service', 'serve'],
    ['vigil-watchdog.service', 'watchdog'],
  ])('%s -> vigil %s', (unit, command) => {
    const argv = words(one(unit, 'Service', 'ExecStart')!);
    expect(argv[0]).toBe('/usr/bin/node');
    expect(argv[1]).toMatch(/\/app\/dist\/cli\/main\.js$/);
    expect(argv[2]).toBe(command);
    const help = helpOf(command);
    for (const flag of argv.filter((a) => a.startsWith('--'))) expect(help, flag).toContain(`  ${flag} `);
    if (command === 'watchdog') {
      expect(argv).toContain('--once');
      expect(argv).toContain('--restart-cmd');
      expect(argv).toContain('--redeploy-cmd');
    }
  });
});
