/**
 * A stand-in for systemd's service sandbox, for machines where no service manager can run (a
 * container). It reads a unit file and turns the settings Vigil's units use into bubblewrap
 * options (a mount namespace for ProtectSystem/ProtectHome/PrivateTmp/PrivateDevices, the
 * read-write paths and the State/CacheDirectory, a user namespace for User=, no capabilities)
 * and into one seccomp program (RestrictAddressFamilies= on socket(2), SystemCallFilter= from
 * `systemd-analyze syscall-filter`, refused calls failing with SystemCallErrorNumber=). A setting
 * it does not model is listed in `unmodelled`, so a test can say exactly what it did not check.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export type Unit = Record<string, Record<string, string[]>>;

/** INI as systemd reads it: sections, repeated keys, backslash continuations, comments dropped. */
export function parseUnit(text: string): Unit {
  const unit: Unit = {};
  let section = '';
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = pending + raw.trim();
    pending = '';
    if (line.endsWith('\\')) {
      pending = `${line.slice(0, -1)} `;
      continue;
    }
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      section = header[1]!;
      unit[section] ??= {};
      continue;
    }
    const eq = line.indexOf('=');
    const key = line.slice(0, eq);
    (unit[section]![key] ??= []).push(line.slice(eq + 1));
  }
  return unit;
}

/** Splits an ExecStart line into words, honouring double quotes. */
export const words = (line: string) => [...line.matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2]!);

export const hasBubblewrap = () => spawnSync('bwrap', ['--version']).status === 0;
const UNISTD = '/usr/include/x86_64-linux-gnu/asm/unistd_64.h';
export const canModelSeccomp = () => process.arch === 'x64' && existsSync(UNISTD) && spawnSync('systemd-analyze', ['--version']).status === 0;

// ---- seccomp (classic BPF, as the kernel takes it) ----------------------------------------------
const AUDIT_ARCH_X86_64 = 0xc000003e;
const SECCOMP_RET_ALLOW = 0x7fff0000;
const SECCOMP_RET_ERRNO = 0x00050000;
const SECCOMP_RET_KILL_PROCESS = 0x80000000;
const BPF_LD_W_ABS = 0x20;
const BPF_JEQ_K = 0x15;
const BPF_RET_K = 0x06;
const ERRNO: Record<string, number> = { EPERM: 1, EACCES: 13, ENOSYS: 38, EAFNOSUPPORT: 97 };
const FAMILIES: Record<string, number> = { AF_UNIX: 1, AF_LOCAL: 1, AF_INET: 2, AF_INET6: 10, AF_NETLINK: 16, AF_PACKET: 17 };

type Insn = [code: number, jt: number, jf: number, k: number];

/** x86_64 syscall numbers from the kernel headers (linux-libc-dev). */
function syscallNumbers(): Map<string, number> {
  const numbers = new Map<string, number>();
  for (const m of readFileSync(UNISTD, 'utf8').matchAll(/^#define __NR_(\w+)\s+(\d+)/gm)) numbers.set(m[1]!, Number(m[2]));
  return numbers;
}

/** A SystemCallFilter= group (or name) expanded to syscall names, as systemd-analyze lists them. */
export function expandSyscallFilter(entries: string[]): Set<string> {
  const listing = spawnSync('systemd-analyze', ['syscall-filter'], { encoding: 'utf8' }).stdout;
  const groups = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const line of listing.split('\n')) {
    if (/^@[\w-]+$/.test(line.trim()) && !line.startsWith(' ')) groups.set(line.trim(), (current = []));
    else if (current && /^\s+[@\w]/.test(line) && !line.trim().startsWith('#')) current.push(line.trim());
  }
  const out = new Set<string>();
  const add = (name: string, seen: Set<string>) => {
    if (!name.startsWith('@')) return void out.add(name);
    if (seen.has(name)) return;
    seen.add(name);
    const members = groups.get(name);
    if (!members) throw new Error(`systemd-analyze does not know the syscall group ${name}`);
    for (const member of members) add(member, seen);
  };
  for (const entry of entries) add(entry, new Set());
  return out;
}

export interface SeccompPolicy {
  /** RestrictAddressFamilies=: the families socket(2) may create; others fail with EAFNOSUPPORT. */
  families?: string[];
  /** SystemCallFilter= allow list (names); others fail with `errno`. */
  syscalls?: Set<string>;
  errno?: string;
}

/** One seccomp program for the policy: the bytes bubblewrap's --seccomp reads. */
export function seccompProgram(policy: SeccompPolicy): Buffer {
  const numbers = syscallNumbers();
  const prog: Insn[] = [
    [BPF_LD_W_ABS, 0, 0, 4], // seccomp_data.arch
    [BPF_JEQ_K, 1, 0, AUDIT_ARCH_X86_64],
    [BPF_RET_K, 0, 0, SECCOMP_RET_KILL_PROCESS], // SystemCallArchitectures=native
    [BPF_LD_W_ABS, 0, 0, 0], // seccomp_data.nr
  ];
  if (policy.families) {
    const allowed = [...new Set(policy.families.map((f) => FAMILIES[f] ?? Number.NaN))];
    if (allowed.some(Number.isNaN)) throw new Error(`unknown address family in ${policy.families.join(' ')}`);
    // socket(): compare args[0] (its low 32 bits; the domain is an int) with each allowed family.
    const block: Insn[] = [[BPF_LD_W_ABS, 0, 0, 16]];
    for (const family of allowed) block.push([BPF_JEQ_K, 0, 1, family], [BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW]);
    block.push([BPF_RET_K, 0, 0, SECCOMP_RET_ERRNO | ERRNO.EAFNOSUPPORT!]);
    prog.push([BPF_JEQ_K, 0, block.length, numbers.get('socket')!], ...block, [BPF_LD_W_ABS, 0, 0, 0]);
  }
  if (policy.syscalls) {
    for (const name of policy.syscalls) {
      const nr = numbers.get(name);
      if (nr === undefined) continue; // not a syscall on x86_64 (e.g. arm_fadvise64_64)
      prog.push([BPF_JEQ_K, 0, 1, nr], [BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW]);
    }
    prog.push([BPF_RET_K, 0, 0, SECCOMP_RET_ERRNO | (ERRNO[policy.errno ?? 'EPERM'] ?? ERRNO.EPERM!)]);
  } else {
    prog.push([BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW]);
  }
  const bytes = Buffer.alloc(prog.length * 8);
  prog.forEach(([code, jt, jf, k], i) => {
    bytes.writeUInt16LE(code, i * 8);
    bytes.writeUInt8(jt, i * 8 + 2);
    bytes.writeUInt8(jf, i * 8 + 3);
    bytes.writeUInt32LE(k >>> 0, i * 8 + 4);
  });
  return bytes;
}

// ---- the unit as a bubblewrap command ------------------------------------------------------------
export interface SandboxPlan {
  argv: string[];
  env: Record<string, string>;
  /** Host folders standing in for the unit's writable directories, by the path the unit sees. */
  writable: Record<string, string>;
  seccomp: Buffer;
  /** Settings present in the unit that this harness does not reproduce. */
  unmodelled: string[];
}

export interface SandboxOptions {
  /** The checkout, mounted read-only where the unit expects the app. */
  repoRoot: string;
  /** Scratch folder on the host for the writable directories and the fake home. */
  scratch: string;
  /** Replaces PORT from the unit's Environment= (a free port for the test). */
  port: number;
  /** GRPC_PORT for the server's gRPC listener (a free port; the default 8081 may be taken). */
  grpcPort?: number;
  /** User unit: %h, %C, %S resolve under this home inside the sandbox. */
  home?: string;
  /** Replaces RestrictAddressFamilies= (to show what the unit's old setting did). */
  families?: string[];
  /** Leaves out StateDirectory= (to show what the user unit did without it). */
  withoutStateDirectory?: boolean;
}

const MODELLED = new Set([
  'Type', 'User', 'Group', 'WorkingDirectory', 'Environment', 'EnvironmentFile', 'ExecStart', 'NoNewPrivileges', 'ProtectSystem',
  'ProtectHome', 'PrivateTmp', 'PrivateDevices', 'ReadWritePaths', 'StateDirectory', 'CacheDirectory', 'RestrictAddressFamilies',
  'SystemCallFilter', 'SystemCallErrorNumber', 'SystemCallArchitectures', 'CapabilityBoundingSet', 'AmbientCapabilities',
  // Not about the sandbox: how systemd supervises the process.
  'Restart', 'RestartSec', 'TimeoutStartSec', 'TimeoutStopSec', 'KillSignal', 'StateDirectoryMode', 'LimitNOFILE', 'MemoryMax',
]);

export function sandboxPlan(unitText: string, options: SandboxOptions): SandboxPlan {
  const service = parseUnit(unitText).Service ?? {};
  const last = (key: string) => service[key]?.at(-1);
  const home = options.home;
  const expand = (value: string) =>
    value.replace(/%h/g, home ?? '/root').replace(/%C/g, `${home}/.cache`).replace(/%S/g, `${home}/.local/state`).replace(/%%/g, '%');
  const args: string[] = ['--die-with-parent', '--new-session'];
  // Mounts in order; a bind whose target does not exist on this host (/opt/vigil/app,
  // /var/lib/vigil) gets a tmpfs on its nearest existing ancestor first, made read-only again
  // after the binds: the sandbox sees exactly the unit's paths and no writable leftovers.
  const binds: { flag: string; src: string; dest: string }[] = [];

  if (last('ProtectSystem') !== 'strict') throw new Error(`the harness models ProtectSystem=strict only, not ${last('ProtectSystem')}`);
  args.push('--ro-bind', '/', '/', '--proc', '/proc');
  args.push(...(last('PrivateDevices') === 'yes' ? ['--dev', '/dev'] : ['--dev-bind', '/dev', '/dev']));
  const privateTmp = last('PrivateTmp') === 'yes';
  if (privateTmp) args.push('--tmpfs', '/tmp', '--tmpfs', '/var/tmp');

  const protectHome = last('ProtectHome');
  const hidden: string[] = [];
  if (protectHome === 'yes' || protectHome === 'tmpfs') {
    for (const dir of ['/home', '/root', '/run/user']) if (existsSync(dir)) hidden.push(dir);
    args.push(...hidden.flatMap((dir) => ['--tmpfs', dir]));
  }
  const writable: Record<string, string> = {};
  const scratchFor = (inside: string) => {
    const host = path.join(options.scratch, 'rw', inside.replace(/[^\w.-]+/g, '_'));
    mkdirSync(host, { recursive: true });
    writable[inside] = host;
    return host;
  };
  // The user's home as ProtectHome=read-only leaves it: there, and read-only.
  const hostHome = path.join(options.scratch, 'home');
  if (home) {
    mkdirSync(path.join(hostHome, '.config', 'vigil'), { recursive: true });
    binds.push({ flag: '--ro-bind', src: hostHome, dest: home });
  }

  const [exe, script, ...rest] = words(expand(last('ExecStart')!));
  // The app where the unit expects it: the checkout, read-only; this test's Node where the unit
  // runs node (or beside the app when that path does not exist here: a tmpfs over /usr/bin would
  // hide the system).
  const appDir = path.dirname(path.dirname(path.dirname(script!))); // <app>/dist/cli/main.js
  binds.push({ flag: '--ro-bind', src: options.repoRoot, dest: appDir });
  const nodeInside = existsSync(exe!) ? exe! : `${path.dirname(appDir)}/.node/bin/node`;
  binds.push({ flag: '--ro-bind', src: process.execPath, dest: nodeInside });

  for (const p of service.ReadWritePaths?.join(' ').split(/\s+/).filter(Boolean) ?? []) {
    const optional = p.startsWith('-');
    const inside = expand(optional ? p.slice(1) : p);
    binds.push({ flag: '--bind', src: scratchFor(inside), dest: inside });
  }
  const directory = (key: string, base: string) => {
    for (const name of service[key]?.join(' ').split(/\s+/).filter(Boolean) ?? []) {
      const inside = `${base}/${name}`;
      if (!writable[inside]) binds.push({ flag: '--bind', src: scratchFor(inside), dest: inside });
    }
  };
  if (!options.withoutStateDirectory) directory('StateDirectory', home ? `${home}/.local/state` : '/var/lib');
  directory('CacheDirectory', home ? `${home}/.cache` : '/var/cache');

  // Where a target's parents do not exist in the sandbox, a read-only-again tmpfs on the nearest
  // existing ancestor (not needed inside a folder that is itself a bind or a tmpfs already).
  const covered = (dest: string) =>
    [...hidden, ...(privateTmp ? ['/tmp', '/var/tmp'] : []), ...binds.map((b) => b.dest)].some((d) => d !== dest && dest.startsWith(`${d}/`));
  const scaffolds = new Set<string>();
  for (const b of binds) {
    // Inside the (read-only) home: the mount point is made in the home's folder on this host, as
    // the user's own folders (the app) or systemd (State/CacheDirectory) make them there.
    if (home && b.dest.startsWith(`${home}/`)) {
      mkdirSync(path.join(hostHome, b.dest.slice(home.length + 1)), { recursive: true });
      continue;
    }
    if (existsSync(b.dest) || covered(b.dest)) continue;
    let ancestor = path.dirname(b.dest);
    while (!existsSync(ancestor)) ancestor = path.dirname(ancestor);
    if (!hidden.includes(ancestor)) scaffolds.add(ancestor);
  }
  const scaffoldList = [...scaffolds].sort((a, b) => a.length - b.length);
  args.push(...scaffoldList.flatMap((dir) => ['--tmpfs', dir]));
  args.push(...binds.flatMap((b) => [b.flag, b.src, b.dest]));
  args.push(...[...scaffoldList, ...hidden].flatMap((dir) => ['--remount-ro', dir]));

  if (last('User')) args.push('--unshare-user', '--uid', '10001', '--gid', '10001');
  if (service.CapabilityBoundingSet?.at(-1) === '') args.push('--cap-drop', 'ALL');
  if (last('WorkingDirectory')) args.push('--chdir', expand(last('WorkingDirectory')!));

  const env: Record<string, string> = { PATH: '/usr/local/bin:/usr/bin:/bin' };
  if (home) env.HOME = home;
  for (const line of service.Environment ?? []) {
    for (const m of expand(line).matchAll(/(\w+)=(\S*)/g)) env[m[1]!] = m[2]!;
  }
  env.PORT = String(options.port);
  if (options.grpcPort !== undefined) env.GRPC_PORT = String(options.grpcPort);

  const families = options.families ?? last('RestrictAddressFamilies')?.split(/\s+/);
  const filter = service.SystemCallFilter;
  const seccomp = seccompProgram({
    families,
    syscalls: filter ? expandSyscallFilter(filter.join(' ').split(/\s+/)) : undefined,
    errno: last('SystemCallErrorNumber'),
  });
  args.push('--seccomp', '3');

  const unmodelled = Object.keys(service).filter((k) => !MODELLED.has(k));
  return { argv: ['bwrap', ...args, '--', nodeInside, script!, ...rest], env, writable, seccomp, unmodelled };
}

/** Writes the seccomp program where a child can get it as file descriptor 3. */
export function writeSeccomp(plan: SandboxPlan, scratch: string): string {
  const file = path.join(scratch, 'seccomp.bpf');
  writeFileSync(file, plan.seccomp);
  return file;
}
