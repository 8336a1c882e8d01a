import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { NotConfigured } from '../../src/errors.js';
import { resolveCredentials, scrubSecret } from '../../src/runtimes/remote/token.js';

const TOKEN = 'hf_unitTESTtoken0123456789';
const dir = mkdtempSync(path.join(tmpdir(), 'vigil-token-'));

function tokenFile(name: string, mode: number, content = `${TOKEN}\n`): string {
  const file = path.join(dir, name);
  writeFileSync(file, content);
  chmodSync(file, mode);
  return file;
}

function refusal(fn: () => unknown): NotConfigured {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(NotConfigured);
    expect((error as Error).message).not.toContain(TOKEN);
    return error as NotConfigured;
  }
  throw new Error('expected NotConfigured');
}

describe('resolveCredentials', () => {
  it('takes HF_TOKEN from the environment', () => {
    expect(resolveCredentials('m', {}, { HF_TOKEN: TOKEN })).toEqual({ kind: 'bearer', token: TOKEN });
  });

  it('reads HF_TOKEN_FILE when it is private (0600 or 0400), trimming the newline', () => {
    expect(resolveCredentials('m', {}, { HF_TOKEN_FILE: tokenFile('ok', 0o600) })).toEqual({ kind: 'bearer', token: TOKEN });
    expect(resolveCredentials('m', {}, { HF_TOKEN_FILE: tokenFile('ro', 0o400) })).toEqual({ kind: 'bearer', token: TOKEN });
  });

  it('refuses a token file readable by group or others, saying how to fix it', () => {
    const file = tokenFile('open', 0o644);
    const error = refusal(() => resolveCredentials('m', {}, { HF_TOKEN_FILE: file }));
    expect(error.message).toContain('mode 0644');
    expect(error.message).toContain(`chmod 600 ${file}`);
    expect(error.status).toBe(503);
    expect(error.code).toBe('not_configured');
    refusal(() => resolveCredentials('m', {}, { HF_TOKEN_FILE: tokenFile('group', 0o640) }));
  });

  it('says how to configure a token when there is none', () => {
    const error = refusal(() => resolveCredentials('positive-thought', {}, {}));
    expect(error.message).toMatch(/HF_TOKEN=.*HF_TOKEN_FILE=/);
    expect(error.message).toContain('"auth": "none"');
  });

  it('refuses a missing file, an empty one, or one with two lines', () => {
    refusal(() => resolveCredentials('m', {}, { HF_TOKEN_FILE: path.join(dir, 'absent') }));
    refusal(() => resolveCredentials('m', {}, { HF_TOKEN_FILE: tokenFile('empty', 0o600, '\n') }));
    refusal(() => resolveCredentials('m', {}, { HF_TOKEN_FILE: tokenFile('two', 0o600, `${TOKEN}\nsecond line\n`) }));
  });

  it('uses a per-model variable when the spec names one, and no token with auth "none"', () => {
    expect(resolveCredentials('m', { tokenEnv: 'OTHER' }, { HF_TOKEN: 'hf_wrong', OTHER: TOKEN })).toEqual({ kind: 'bearer', token: TOKEN });
    expect(resolveCredentials('m', { tokenEnv: 'OTHER' }, { OTHER_FILE: tokenFile('other', 0o600) })).toEqual({ kind: 'bearer', token: TOKEN });
    refusal(() => resolveCredentials('m', { tokenEnv: 'OTHER' }, { HF_TOKEN: TOKEN }));
    expect(resolveCredentials('m', { auth: 'none' }, {})).toEqual({ kind: 'none' });
  });

  it('scrubs the token out of text meant for people', () => {
    expect(scrubSecret(`bad header Bearer ${TOKEN}`, { kind: 'bearer', token: TOKEN })).toBe('bad header Bearer [redacted]');
  });
});
