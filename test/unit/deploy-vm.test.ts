/**
 * deploy/vm without a VM. A real run needs a host with sshd, sudo and a running systemd, which
 * this sandbox has not; what can run here does:
 * - shellcheck on every script;
 * - the --dry-run plan (and that secrets never appear in it);
 * - the VM-side steps run for real in a scratch tree: the env file (values on stdin, 0600,
 *   unchanged on the second run), the units step and vigil-redeploy with a recording
 *   `systemctl`/`npm` in PATH (they change things once, then nothing), and the release rsync
 *   with the same filter file (second sync: no changes).
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/server.js';

const VM = path.join(REPO_ROOT, 'deploy', 'vm');
const work = mkdtempSync(path.join(tmpdir(), 'vigil-deploy-vm-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const has = (tool: string) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;

function run(command: string, args: string[], options: { env?: NodeJS.ProcessEnv; input?: string; cwd?: string } = {}): SpawnSyncReturns<string> {
  return spawnSync(command, args, { encoding: 'utf8', env: { PATH: process.env.PATH, HOME: process.env.HOME, ...options.env }, input: options.input, cwd: options.cwd });
}

const SCRIPTS = ['deploy.sh', 'vigil-redeploy.sh', 'remote/packages.sh', 'remote/user.sh', 'remote/env-file.sh', 'remote/units.sh', 'remote/service.sh', 'remote/node-tarball.sh'];

if (!has('shellcheck')) console.warn('[skipped] shellcheck is not installed (apt-get install shellcheck): deploy/vm scripts not linted');
describe.skipIf(!has('shellcheck'))('shellcheck', () => {
  it.each(SCRIPTS)('%s is clean', (script) => {
    const result = run('shellcheck', ['-x', '-S', 'style', path.join(VM, script)]);
    expect(result.stdout + result.stderr).toBe('');
    expect(result.status).toBe(0);
  });
});

describe('deploy.sh --dry-run', () => {
  const deploy = (args: string[], env: NodeJS.ProcessEnv = {}) => run('bash', [path.join(VM, 'deploy.sh'), ...args], { env });

  it('prints every step in order, naming secrets but never their values', () => {
    const secret = 'hf_DryRunSecretValue0123456789';
    const result = deploy(['--dry-run', '--bootstrap-key', '/keys/shared', '--key', '/keys/mine', 'admin@vm.example'], { HF_TOKEN: secret, VIGIL_ADMIN_TOKEN: 'admin-secret-42' });
    expect(result.status, result.stderr).toBe(0);
    const steps = [...result.stdout.matchAll(/^PLAN (\w+):/gm)].map((m) => m[1]);
    expect(steps).toEqual(['keys', 'packages', 'user', 'build', 'release', 'env', 'units', 'app', 'restart', 'verify']);
    expect(result.stdout).toMatch(/PLAN keys: log in with the bootstrap key \/keys\/shared, install \/keys\/mine\.pub, then remove the bootstrap key/);
    expect(result.stdout).toMatch(/PLAN env: write \/etc\/vigil\/vigil\.env \(root, 0600\) with HF_TOKEN VIGIL_ADMIN_TOKEN \(values not shown\), through ssh stdin/);
    expect(result.stdout + result.stderr).not.toContain(secret);
    expect(result.stdout + result.stderr).not.toContain('admin-secret-42');
  });

  it('keeps the VM env file when no variable is set here', () => {
    const result = deploy(['--dry-run', 'admin@vm.example']);
    expect(result.stdout).toMatch(/PLAN env: keep \/etc\/vigil\/vigil\.env as it is/);
    expect(result.stdout).toMatch(/PLAN keys: skip/);
  });

  it('refuses bad usage and values systemd would mangle, with exit code 2', () => {
    expect(deploy(['--dry-run']).status).toBe(2);
    expect(deploy(['--bogus', 'a@b']).status).toBe(2);
    expect(deploy(['--dry-run', '--port', 'ssh', 'a@b']).status).toBe(2);
    const quoted = deploy(['--dry-run', 'a@b'], { HF_TOKEN: 'has"quote' });
    expect(quoted.status).toBe(2);
    expect(quoted.stderr).toMatch(/HF_TOKEN holds a newline, quote or backslash/);
    expect(quoted.stderr).not.toContain('has"quote');
  });
});

describe('the Node.js tarball is installed only with its published SHA-256', () => {
  // A stand-in release tarball: node-v24.x-linux-x64/bin/node runs this test's Node (>= 22 in CI).
  const dir = path.join(work, 'node-release');
  const tree = path.join(dir, 'node-v24.99.0-linux-x64');
  mkdirSync(path.join(tree, 'bin'), { recursive: true });
  writeFileSync(path.join(tree, 'bin', 'node'), `#!/bin/sh\nexec '${process.execPath}' "$@"\n`);
  chmodSync(path.join(tree, 'bin', 'node'), 0o755);
  const tarball = path.join(dir, 'node-v24.99.0-linux-x64.tar.xz');
  spawnSync('tar', ['-cJf', tarball, '-C', dir, 'node-v24.99.0-linux-x64']);
  const sha = spawnSync('sha256sum', [tarball], { encoding: 'utf8' }).stdout.split(' ')[0]!;
  const deploy = (args: string[]) => run('bash', [path.join(VM, 'deploy.sh'), '--dry-run', ...args, 'admin@vm.example']);

  it('deploy.sh reads the digest from SHASUMS256.txt beside the tarball and refuses a file that does not match', () => {
    expect(deploy(['--node-tarball', tarball]).stderr).toMatch(/no SHASUMS256\.txt beside/);
    writeFileSync(path.join(dir, 'SHASUMS256.txt'), `${'0'.repeat(64)}  node-v24.99.0-linux-x64.tar.gz\n${sha}  node-v24.99.0-linux-x64.tar.xz\n`);
    const ok = deploy(['--node-tarball', tarball]);
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toContain(`else from ${tarball} (SHA-256 ${sha} checked)`);
    const tampered = deploy(['--node-tarball', tarball, '--node-sha256', 'a'.repeat(64)]);
    expect(tampered.status).toBe(2);
    expect(tampered.stderr).toMatch(/SHA-256 is [0-9a-f]{64}, expected a{64}: not the file that was published/);
    expect(deploy(['--node-tarball', tarball, '--node-sha256', 'nothex']).status).toBe(2);
  });

  it('node-tarball.sh on the VM checks the bytes that arrived, then installs and links Node', () => {
    const base = path.join(dir, 'opt-vigil');
    const link = path.join(dir, 'usr-bin-node');
    mkdirSync(base, { recursive: true });
    const install = (digest: string) =>
      spawnSync('bash', [path.join(VM, 'remote', 'node-tarball.sh'), digest], { encoding: 'utf8', input: readFileSync(tarball), env: { PATH: process.env.PATH, VIGIL_REMOTE_BASE: base, VIGIL_NODE_LINK: link } });
    const bad = install('b'.repeat(64));
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/expected b{64}: not installed/);
    expect(existsSync(path.join(base, 'node'))).toBe(false);
    expect(spawnSync('ls', ['-A', base], { encoding: 'utf8' }).stdout.trim()).toBe('');
    const good = install(sha);
    if (Number(process.versions.node.split('.')[0]) >= 22) {
      expect(good.status, good.stderr).toBe(0);
      expect(good.stdout.trim()).toBe(process.version);
    } else {
      // Running these tests on an older Node: the stand-in is that Node, which the script must refuse.
      expect(good.status).toBe(1);
      expect(good.stderr).toMatch(/older than 22: remove the distribution's nodejs/);
    }
    expect(existsSync(path.join(base, 'node', 'bin', 'node'))).toBe(true);
    expect(spawnSync('readlink', [link], { encoding: 'utf8' }).stdout.trim()).toBe(path.join(base, 'node', 'bin', 'node'));
  });
});

describe('VM side: env file (remote/env-file.sh, run here)', () => {
  const etc = path.join(work, 'etc-vigil');
  mkdirSync(etc, { mode: 0o700 });
  const envFile = path.join(etc, 'vigil.env');
  const envScript = (mode: string, input = '') => run('bash', [path.join(VM, 'remote', 'env-file.sh'), mode], { env: { VIGIL_ETC_DIR: etc }, input });

  it('creates an empty 0600 file to keep, writes values from stdin once, then changes nothing', () => {
    expect(envScript('keep').stdout.trim()).toBe('created');
    expect(statSync(envFile).mode & 0o777).toBe(0o600);
    expect(envScript('keep').stdout.trim()).toBe('unchanged');
    const content = 'HF_TOKEN=hf_value\nLOG_LEVEL=info\n';
    expect(envScript('write', content).stdout.trim()).toBe('changed');
    expect(readFileSync(envFile, 'utf8')).toBe(content);
    expect(statSync(envFile).mode & 0o777).toBe(0o600);
    expect(envScript('write', content).stdout.trim()).toBe('unchanged');
    expect(envScript('keep').stdout.trim()).toBe('unchanged');
    expect(readFileSync(envFile, 'utf8')).toBe(content);
    expect(envScript('write', 'HF_TOKEN=rotated\n').stdout.trim()).toBe('changed');
    // No temporary copies of the secrets left behind.
    expect(spawnSync('ls', ['-A', etc], { encoding: 'utf8' }).stdout.trim()).toBe('vigil.env');
  });
});

/** A PATH with recording `systemctl` and `npm`, so the VM-side logic runs here without side effects. */
function fakeTools(dir: string): { env: NodeJS.ProcessEnv; calls: () => string[] } {
  const bin = path.join(dir, 'bin');
  const log = path.join(dir, 'calls.log');
  const state = path.join(dir, 'state');
  mkdirSync(bin, { recursive: true });
  mkdirSync(state, { recursive: true });
  writeFileSync(
    path.join(bin, 'systemctl'),
    `#!/bin/sh
echo "systemctl $*" >> '${log}'
case "$1" in
  is-enabled) [ -f '${state}'/enabled-"$3" ] ;;
  is-active) [ -f '${state}'/active-"$3" ] ;;
  enable) touch '${state}'/enabled-"$3" ;;
  start|restart) touch '${state}'/active-"$2" ;;
  *) true ;;
esac
`,
  );
  writeFileSync(path.join(bin, 'npm'), `#!/bin/sh\necho "npm $*" >> '${log}'\nmkdir -p node_modules\n`);
  chmodSync(path.join(bin, 'systemctl'), 0o755);
  chmodSync(path.join(bin, 'npm'), 0o755);
  return {
    env: { PATH: `${bin}:${process.env.PATH}` },
    calls: () => (existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n') : []),
  };
}

describe('VM side: units and vigil-redeploy (run here with a recording systemctl)', () => {
  const dir = path.join(work, 'vm');
  const release = path.join(dir, 'release');
  const app = path.join(dir, 'app');
  const unitDir = path.join(dir, 'systemd');
  const binDir = path.join(dir, 'bin-vigil');
  for (const d of [release, unitDir, binDir]) mkdirSync(d, { recursive: true });
  const tools = fakeTools(dir);
  const env = { ...tools.env, VIGIL_RELEASE_DIR: release, VIGIL_APP_DIR: app, VIGIL_UNIT_DIR: unitDir, VIGIL_BIN_DIR: binDir };
  // A release as deploy.sh ships it (a small one: the test needs the files, not their size).
  writeFileSync(path.join(release, 'package.json'), '{"name":"vigil"}\n');
  cpSync(path.join(REPO_ROOT, 'deploy', 'systemd'), path.join(release, 'deploy', 'systemd'), { recursive: true });
  cpSync(VM, path.join(release, 'deploy', 'vm'), { recursive: true });

  it('units.sh installs and enables once, then changes nothing', () => {
    const first = run('bash', [path.join(VM, 'remote', 'units.sh')], { env });
    expect(first.status, first.stderr).toBe(0);
    expect(first.stdout.trim()).toBe('vigil.service vigil-watchdog.service vigil-watchdog.timer vigil-redeploy enabled:vigil.service enabled:vigil-watchdog.timer started:timer');
    expect(readFileSync(path.join(unitDir, 'vigil.service'), 'utf8')).toBe(readFileSync(path.join(REPO_ROOT, 'deploy', 'systemd', 'vigil.service'), 'utf8'));
    expect(statSync(path.join(binDir, 'vigil-redeploy')).mode & 0o777).toBe(0o755);
    expect(tools.calls()).toContain('systemctl daemon-reload');
    const before = tools.calls().length;
    const second = run('bash', [path.join(VM, 'remote', 'units.sh')], { env });
    expect(second.stdout.trim()).toBe('unchanged');
    expect(tools.calls().slice(before).filter((c) => !/is-enabled|is-active/.test(c))).toEqual([]);
  });

  it.skipIf(!has('rsync'))('vigil-redeploy --if-changed installs once, then changes nothing; a new release installs again', () => {
    const redeploy = (args: string[]) => run('sh', [path.join(VM, 'vigil-redeploy.sh'), ...args], { env });
    const first = redeploy(['--if-changed']);
    expect(first.status, first.stderr).toBe(0);
    expect(first.stdout.trim().split('\n').at(-1)).toBe('changed');
    expect(readFileSync(path.join(app, 'package.json'), 'utf8')).toBe('{"name":"vigil"}\n');
    expect(tools.calls()).toEqual(expect.arrayContaining(['npm ci --omit=dev --no-audit --no-fund', 'systemctl restart vigil.service']));

    const before = tools.calls().length;
    const second = redeploy(['--if-changed']);
    expect(second.stdout.trim().split('\n').at(-1)).toBe('unchanged');
    expect(tools.calls().length).toBe(before);

    writeFileSync(path.join(release, 'package.json'), '{"name":"vigil","version":"2"}\n');
    expect(redeploy(['--if-changed']).stdout.trim().split('\n').at(-1)).toBe('changed');
    expect(readFileSync(path.join(app, 'package.json'), 'utf8')).toMatch(/"version":"2"/);
    // Without --if-changed (the watchdog's redeploy) it always reinstalls.
    expect(redeploy([]).stdout.trim().split('\n').at(-1)).toBe('changed');
  });
});

if (!has('rsync')) console.warn('[skipped] rsync is not installed: the release filter was not exercised');
describe.skipIf(!has('rsync'))('release rsync (same filter file as deploy.sh)', () => {
  it('ships exactly the runtime files, and a second sync changes nothing', () => {
    const dest = path.join(work, 'release-sync');
    const sync = () =>
      run('rsync', ['-rlt', '--checksum', '--delete', '--delete-excluded', '--itemize-changes', `--filter=merge ${path.join(VM, 'release.filter')}`, `${REPO_ROOT}/`, `${dest}/`]);
    const first = sync();
    expect(first.status, first.stderr).toBe(0);
    const top = spawnSync('ls', ['-A', dest], { encoding: 'utf8' }).stdout.trim().split('\n').sort();
    expect(top).toEqual(['.npmrc', 'deploy', 'dist', 'models', 'package-lock.json', 'package.json', 'ui'].sort());
    expect(spawnSync('ls', ['-A', path.join(dest, 'deploy')], { encoding: 'utf8' }).stdout.trim().split('\n').sort()).toEqual(['systemd', 'vm']);
    expect(spawnSync('ls', ['-A', path.join(dest, 'ui')], { encoding: 'utf8' }).stdout.trim()).toBe('dist');
    expect(existsSync(path.join(dest, 'dist', 'cli', 'main.js'))).toBe(true);
    expect(existsSync(path.join(dest, 'node_modules'))).toBe(false);
    expect(sync().stdout).toBe('');
  });
});
