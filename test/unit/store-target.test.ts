import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, resolveServeConfig } from '../../src/config/serve-config.js';
import { passwordFromEnvironment, PASSWORD_FILE_ENV } from '../../src/store/postgres.js';
import { parseStoreTarget, redactUrl } from '../../src/store/target.js';

describe('--prediction-log targets', () => {
  it('tells SQLite paths from PostgreSQL URLs', () => {
    expect(parseStoreTarget(undefined)).toEqual({ kind: 'sqlite', path: ':memory:' });
    expect(parseStoreTarget('/var/lib/vigil/p.sqlite')).toEqual({ kind: 'sqlite', path: '/var/lib/vigil/p.sqlite' });
    expect(parseStoreTarget('data/p.sqlite')).toEqual({ kind: 'sqlite', path: 'data/p.sqlite' });
    expect(parseStoreTarget('sqlite:/tmp/p.sqlite')).toEqual({ kind: 'sqlite', path: '/tmp/p.sqlite' });
    expect(parseStoreTarget('postgres://vigil@db:5432/vigil')).toEqual({ kind: 'postgres', url: 'postgres://vigil@db:5432/vigil', redacted: 'postgres://vigil@db:5432/vigil' });
    expect(parseStoreTarget('postgresql://vigil:pw@db/vigil')).toMatchObject({ kind: 'postgres', redacted: 'postgresql://vigil:***@db/vigil' });
  });

  it('refuses an unknown backend or a malformed URL at start-up, naming the value but never the password', () => {
    const refused = (value: string) => {
      try {
        resolveServeConfig({ predictionLog: value });
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError);
        return (error as Error).message;
      }
      throw new Error(`${value} was accepted`);
    };
    expect(refused('mysql://vigil@db/vigil')).toBe('invalid setting: --prediction-log "mysql://vigil@db/vigil": unknown backend "mysql" (a SQLite file path, or postgres://user@host:5432/database for PostgreSQL)');
    expect(refused('postgres:db/vigil')).toContain('"postgres:db/vigil" names no host');
    expect(refused('postgres://vigil@db:5432/')).toContain('names no database');
    expect(refused('postgres://db:5432/vigil')).toContain('names no user');
    expect(refused('postgres://vigil@db:99999/vigil')).toContain('is not a valid URL');
    const withPassword = refused('postgres://vigil:hunter2@db:5432/');
    expect(withPassword).toContain('postgres://vigil:***@db:5432/');
    expect(withPassword).not.toContain('hunter2');
    expect(redactUrl('postgres://u:p@w@bad:port/x')).not.toContain('p@w');
  });

  it('takes the password from the URL, the environment or a 0600 file only', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'vigil-pw-'));
    try {
      const file = path.join(dir, 'pw');
      writeFileSync(file, 'from-file\n', { mode: 0o600 });
      expect(passwordFromEnvironment('postgres://u:inurl@h/d', { VIGIL_PREDICTION_LOG_PASSWORD: 'env' })).toBeUndefined();
      expect(passwordFromEnvironment('postgres://u@h/d', { VIGIL_PREDICTION_LOG_PASSWORD: 'env' })).toBe('env');
      expect(passwordFromEnvironment('postgres://u@h/d', { [PASSWORD_FILE_ENV]: file })).toBe('from-file');
      chmodSync(file, 0o644);
      expect(() => passwordFromEnvironment('postgres://u@h/d', { [PASSWORD_FILE_ENV]: file })).toThrow(/accessible by group or others \(mode 0644\)/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
