import { describe, expect, it } from 'vitest';
import { adminGuard, adminTokenFromEnv, bearerToken, tokenMatches } from '../../src/http/admin-auth.js';

describe('admin token', () => {
  it('reads the bearer token of an Authorization header', () => {
    expect(bearerToken('Bearer abc.def')).toBe('abc.def');
    expect(bearerToken('bearer   abc')).toBe('abc');
    expect(bearerToken('Basic abc')).toBeUndefined();
    expect(bearerToken('Bearer')).toBeUndefined();
    expect(bearerToken('Bearer a b')).toBeUndefined();
    expect(bearerToken(undefined)).toBeUndefined();
  });

  it('compares tokens exactly, whatever their lengths', () => {
    expect(tokenMatches('s3cret', 's3cret')).toBe(true);
    expect(tokenMatches('s3cret', 's3cre')).toBe(false);
    expect(tokenMatches('', 's3cret')).toBe(false);
    expect(tokenMatches('S3CRET', 's3cret')).toBe(false);
  });

  it('treats an empty or blank VIGIL_ADMIN_TOKEN as unset', () => {
    expect(adminTokenFromEnv({ VIGIL_ADMIN_TOKEN: 'x' })).toBe('x');
    expect(adminTokenFromEnv({ VIGIL_ADMIN_TOKEN: '  ' })).toBeUndefined();
    expect(adminTokenFromEnv({})).toBeUndefined();
  });

  it('the guard lets requests through with the token only: 401 with a wrong or missing one, 403 naming VIGIL_ADMIN_TOKEN when none is set', async () => {
    const headers: Record<string, string> = {};
    const reply = { header: (k: string, v: string) => ((headers[k] = v), reply) } as never;
    const request = (authorization?: string) => ({ headers: authorization ? { authorization } : {} }) as never;
    await expect(adminGuard(undefined)(request(), reply)).rejects.toMatchObject({ status: 403, code: 'admin_disabled', message: expect.stringContaining('VIGIL_ADMIN_TOKEN') });
    await expect(adminGuard(undefined)(request('Bearer anything'), reply)).rejects.toMatchObject({ status: 403 });
    await expect(adminGuard('tok')(request('Bearer tok'), reply)).resolves.toBeUndefined();
    await expect(adminGuard('tok')(request('Bearer nope'), reply)).rejects.toMatchObject({ status: 401, message: 'the admin token is wrong' });
    await expect(adminGuard('tok')(request(), reply)).rejects.toMatchObject({ status: 401, code: 'unauthorized' });
    expect(headers['www-authenticate']).toMatch(/^Bearer/);
  });
});
