import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI } from '../helpers/server.js';

/**
 * `vigil serve --prediction-log` with a value that is neither a SQLite path nor a PostgreSQL URL:
 * the real CLI stops at once (exit 2) naming the value, without the password, and writes nothing
 * (it once created a SQLite file under a folder named "postgres:" in the working directory).
 */

const cwd = mkdtempSync(path.join(tmpdir(), 'vigil-target-'));
afterAll(() => rmSync(cwd, { recursive: true, force: true }));

function serve(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, 'serve', '--host', '127.0.0.1', '--port', '0', '--no-embedded', ...args], {
      cwd,
      env: { ...process.env, VIGIL_PREDICTION_LOG: undefined, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('exit', (code) => resolve({ code, output }));
  });
}

describe('an unknown prediction log backend or a malformed URL', () => {
  it('is a start-up error naming the value', async () => {
    const mysql = await serve(['--prediction-log', 'mysql://vigil:hunter2@db:3306/vigil']);
    expect(mysql.code).toBe(2);
    expect(mysql.output).toContain('--prediction-log "mysql://vigil:***@db:3306/vigil": unknown backend "mysql"');
    expect(mysql.output).not.toContain('hunter2');

    const noHost = await serve([], { VIGIL_PREDICTION_LOG: 'postgres:vigil' });
    expect(noHost.code).toBe(2);
    expect(noHost.output).toContain('"postgres:vigil" names no host');

    const noDatabase = await serve(['--prediction-log', 'postgresql://vigil@db:5432']);
    expect(noDatabase.code).toBe(2);
    expect(noDatabase.output).toContain('names no database');
    // Nothing was created where the server was started.
    expect(readdirSync(cwd)).toEqual([]);
  }, 60_000);
});
