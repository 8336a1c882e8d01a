/**
 * The container image without a Docker engine: the Dockerfile read instruction by instruction
 * (the checks hadolint would make that matter here, plus ours), the build context's
 * .dockerignore, the HEALTHCHECK script run for real, and shellcheck on the shell scripts.
 * deploy/docker/test-image.sh does the rest on a machine with Docker.
 */
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/server.js';

const DOCKER_DIR = path.join(REPO_ROOT, 'deploy', 'docker');

interface Instruction {
  op: string;
  args: string;
  line: number;
}

/** Dockerfile -> instructions (continuations joined, comments dropped), grouped by stage. */
function parseDockerfile(text: string): { args: Map<string, string>; stages: { from: string; name?: string; body: Instruction[] }[] } {
  const instructions: Instruction[] = [];
  let pending = '';
  let start = 0;
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (!pending && (line === '' || line.startsWith('#'))) return;
    if (pending && line.startsWith('#')) return;
    if (!pending) start = i + 1;
    pending += (pending ? ' ' : '') + line.replace(/\\$/, '').trim();
    if (line.endsWith('\\')) return;
    const [op = '', ...rest] = pending.split(/\s+/);
    instructions.push({ op: op.toUpperCase(), args: rest.join(' '), line: start });
    pending = '';
  });
  const args = new Map<string, string>();
  const stages: { from: string; name?: string; body: Instruction[] }[] = [];
  for (const ins of instructions) {
    if (ins.op === 'ARG' && stages.length === 0) {
      const [k = '', v = ''] = ins.args.split('=');
      args.set(k, v);
    } else if (ins.op === 'FROM') {
      const [image = '', as, name] = ins.args.split(/\s+/);
      const from = image.replace(/\$\{(\w+)\}/g, (_, k: string) => args.get(k) ?? `\${${k}}`);
      stages.push({ from, ...(as?.toUpperCase() === 'AS' ? { name } : {}), body: [] });
    } else {
      stages.at(-1)?.body.push(ins);
    }
  }
  return { args, stages };
}

const dockerfile = readFileSync(path.join(DOCKER_DIR, 'Dockerfile'), 'utf8');
const { args, stages } = parseDockerfile(dockerfile);
const runtime = stages.at(-1)!;
const ops = (op: string) => runtime.body.filter((i) => i.op === op);
const runs = (stageName: string) =>
  stages
    .find((s) => s.name === stageName)!
    .body.filter((i) => i.op === 'RUN')
    .map((i) => i.args)
    .join('\n');

describe('Dockerfile', () => {
  it('is multi-stage: build with dev dependencies, production dependencies only in what ships', () => {
    expect(stages.map((s) => s.name)).toEqual(['build', 'deps', 'runtime']);
    expect(runs('build')).toMatch(/npm ci(?! --omit)/);
    expect(runs('build')).toMatch(/npm run build/);
    expect(runs('deps')).toMatch(/npm ci --omit=dev/);
    expect(runs('deps')).toMatch(/prune-node-modules\.sh/);
    // The runtime stage installs nothing with npm and takes node_modules from the deps stage only.
    expect(runs('runtime')).not.toMatch(/\bnpm\b/);
    const copies = ops('COPY').map((i) => i.args);
    expect(copies.filter((c) => c.includes('node_modules'))).toEqual([expect.stringMatching(/^--from=deps /)]);
    expect(copies.some((c) => /--from=build .*\/dist /.test(c))).toBe(true);
  });

  it('pins every base image to a versioned tag, never latest', () => {
    expect(args.get('NODE_IMAGE')).toMatch(/^node:24\.\d+-bookworm-slim$/);
    for (const stage of stages) {
      expect(stage.from, `stage ${stage.name}`).toMatch(/^[a-z0-9./-]+:\d+(\.\d+)+-[a-z0-9-]+$/);
      expect(stage.from).not.toMatch(/:latest$/);
    }
    // Runtime Node.js is the pinned node image's binary, not a distro or downloaded one.
    // The pinned image's Node, stripped of its symbols in the build stage.
    const build = stages.find((s) => s.name === 'build')!;
    expect(build.body.some((i) => i.op === 'RUN' && /strip --strip-all -o \/tmp\/node \/usr\/local\/bin\/node/.test(i.args))).toBe(true);
    expect(ops('COPY').some((i) => i.args === '--from=build --chown=root:root /tmp/node /usr/local/bin/node')).toBe(true);
  });

  it('runs as a non-root numeric user, under tini, with a readiness HEALTHCHECK, on port 8000, bound to 0.0.0.0', () => {
    const users = ops('USER');
    expect(users).toHaveLength(1);
    const [uid, gid] = users[0]!.args.split(':');
    expect(Number(uid)).toBeGreaterThan(0);
    expect(Number(gid)).toBeGreaterThan(0);
    // Nothing after USER may switch back.
    expect(runtime.body.indexOf(users[0]!)).toBeGreaterThan(runtime.body.findIndex((i) => i.op === 'RUN'));
    expect(ops('ENTRYPOINT').map((i) => i.args)).toEqual(['["/usr/bin/tini", "--"]']);
    expect(runs('runtime')).toMatch(/apt-get install -y --no-install-recommends tini/);
    expect(ops('CMD').map((i) => i.args)).toEqual(['["node", "dist/cli/main.js", "serve"]']);
    expect(ops('EXPOSE').map((i) => i.args)).toEqual(['8000 8081 8002']);
    expect(ops('COPY').map((i) => i.args)).toContain('--chown=root:root proto ./proto');
    const env = ops('ENV').map((i) => i.args).join(' ');
    expect(env).toMatch(/\bHOST=0\.0\.0\.0\b/);
    expect(env).toMatch(/\bNODE_ENV=production\b/);
    // The health port the image exposes is opened, and the HEALTHCHECK asks it.
    expect(env).toMatch(/\bVIGIL_HEALTH_PORT=8002\b/);
    const health = ops('HEALTHCHECK');
    expect(health).toHaveLength(1);
    expect(health[0]!.args).toMatch(/--start-period=\d+s/);
    expect(health[0]!.args).toMatch(/CMD \["node", "deploy\/docker\/healthcheck\.mjs"\]$/);
  });

  it('bakes the embedded models in and keeps app files root-owned', () => {
    const copies = ops('COPY').map((i) => i.args);
    expect(copies).toContain('--chown=root:root models ./models');
    for (const copy of copies) if (!copy.startsWith('--from=build /usr/local/bin')) expect(copy).toMatch(/--chown=root:root/);
  });

  it('holds no secrets and sets none', () => {
    for (const stage of stages) {
      for (const ins of stage.body.filter((i) => i.op === 'ENV' || i.op === 'ARG')) {
        expect(ins.args, `line ${ins.line}`).not.toMatch(/(TOKEN|SECRET|PASSWORD|API_?KEY)\w*=/i);
      }
    }
    expect(dockerfile).not.toMatch(/hf_[A-Za-z0-9]{20,}/);
    expect(dockerfile).not.toMatch(/--mount=type=secret|COPY[^\n]*\.env\b/);
  });

  it('copies only files that exist and that .dockerignore lets into the context', () => {
    const allowed = readFileSync(path.join(REPO_ROOT, '.dockerignore'), 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('!'))
      .map((l) => l.slice(1).replace(/\/$/, ''));
    for (const stage of stages) {
      for (const ins of stage.body.filter((i) => i.op === 'COPY' && !i.args.includes('--from='))) {
        const parts = ins.args.split(/\s+/).filter((p) => !p.startsWith('--'));
        for (const source of parts.slice(0, -1)) {
          expect(existsSync(path.join(REPO_ROOT, source)), `${source} (line ${ins.line})`).toBe(true);
          expect(allowed.some((a) => source === a || source.startsWith(`${a}/`)), `${source} is not in .dockerignore's allow list`).toBe(true);
        }
      }
    }
  });
});

describe('.dockerignore', () => {
  const lines = readFileSync(path.join(REPO_ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim());
  it('starts from nothing and never lets in node_modules, dist, .git, test artifacts or env files', () => {
    expect(lines.filter((l) => l && !l.startsWith('#'))[0]).toBe('*');
    for (const never of ['**/node_modules', '**/dist', '**/.git', '**/test-artifacts', '**/.env']) expect(lines).toContain(never);
    // Excludes come after the allow list, so they win (the last matching line decides).
    const lastAllow = Math.max(...lines.map((l, i) => (l.startsWith('!') ? i : -1)));
    expect(lines.indexOf('**/node_modules')).toBeGreaterThan(lastAllow);
    expect(lines.some((l) => l.startsWith('!') && /test|\.git|shared/.test(l))).toBe(false);
  });
});

describe('healthcheck.mjs (run for real)', () => {
  let server: Server;
  let status = 200;
  let port = 0;
  beforeAll(async () => {
    server = createServer((request, response) => {
      response.writeHead(request.url === '/ready' ? status : 404, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ ready: status === 200 }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const check = (env: NodeJS.ProcessEnv) =>
    new Promise<{ code: number; stderr: string }>((resolve) => {
      execFile(process.execPath, [path.join(DOCKER_DIR, 'healthcheck.mjs')], { env: { ...process.env, VIGIL_HEALTH_PORT: '', ...env }, timeout: 20_000 }, (error, _stdout, stderr) =>
        resolve({ code: error ? Number(error.code) : 0, stderr }),
      );
    });

  it('asks the health port when VIGIL_HEALTH_PORT is set, the main port otherwise', async () => {
    status = 200;
    expect((await check({ PORT: '1', VIGIL_HEALTH_PORT: String(port) })).code).toBe(0);
    const mainPortOnly = await check({ PORT: '1', VIGIL_HEALTH_PORT: '' });
    expect(mainPortOnly.code).toBe(1);
    expect(mainPortOnly.stderr).toMatch(/unreachable: http:\/\/127\.0\.0\.1:1\/ready/);
  });

  it('exits 0 when /ready is 200, 1 when it is 503, 1 when nothing listens', async () => {
    status = 200;
    expect((await check({ PORT: String(port) })).code).toBe(0);
    status = 503;
    const notReady = await check({ PORT: String(port) });
    expect(notReady.code).toBe(1);
    expect(notReady.stderr).toMatch(/not ready: 503/);
    server.close();
    const dead = await check({ PORT: String(port) });
    expect(dead.code).toBe(1);
    expect(dead.stderr).toMatch(/unreachable: .*ECONNREFUSED/);
  });
});

const shellcheck = spawnSync('shellcheck', ['--version']).status === 0;
if (!shellcheck) console.warn('[skipped] shellcheck is not installed (apt-get install shellcheck): deploy/docker scripts not linted');

describe.skipIf(!shellcheck)('shell scripts (shellcheck)', () => {
  it.each(['test-image.sh', 'prune-node-modules.sh'])('%s is shellcheck-clean', (file) => {
    const run = spawnSync('shellcheck', ['-x', '-S', 'style', path.join(DOCKER_DIR, file)], { encoding: 'utf8' });
    expect(run.stdout + run.stderr).toBe('');
    expect(run.status).toBe(0);
  });
});
