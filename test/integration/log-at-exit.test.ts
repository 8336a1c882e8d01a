import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/server.js';

const dir = mkdtempSync(path.join(tmpdir(), 'vigil-log-exit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * A short command (`vigil watchdog --once`, `vigil smoke`) logs its verdict and exits: the last
 * lines are still in the logger's chunk then, and must reach stdout, a pipe read by whoever ran
 * it. Each case logs, lets one chunk go out on the flush timer (so a write has happened before),
 * logs again and ends, naturally or with process.exit.
 */
function run(ending: 'natural' | 'process.exit'): string[] {
  const script = `
    const { createLogger } = await import(${JSON.stringify(path.join(REPO_ROOT, 'dist', 'observability', 'logger.js'))});
    const logger = createLogger({}).child({ component: 'test' });
    logger.warn('first');
    await new Promise((resolve) => setTimeout(resolve, 250));
    for (let i = 0; i < 50; i++) logger.error({ i }, 'last');
    console.log('verdict');
    ${ending === 'natural' ? 'process.exitCode = 1;' : 'process.exit(1);'}
  `;
  const file = path.join(dir, `${ending.replace('.', '-')}.mjs`);
  writeFileSync(file, script);
  const child = spawnSync(process.execPath, [file], { encoding: 'utf8', timeout: 30_000 });
  expect(child.status).toBe(1);
  return child.stdout.split('\n').filter((line) => line.startsWith('{'));
}

describe('the log at exit', () => {
  for (const ending of ['natural', 'process.exit'] as const) {
    it(`writes every line when the process ends (${ending})`, () => {
      for (let attempt = 0; attempt < 5; attempt++) {
        const lines = run(ending).map((line) => JSON.parse(line) as { msg: string; i?: number });
        expect(lines.filter((l) => l.msg === 'first')).toHaveLength(1);
        expect(lines.filter((l) => l.msg === 'last').map((l) => l.i)).toEqual(Array.from({ length: 50 }, (_, i) => i));
      }
    });
  }
});
