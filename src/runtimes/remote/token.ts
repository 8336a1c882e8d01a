import { readFileSync, statSync } from 'node:fs';
import { NotConfigured } from '../../errors.js';
import type { RemoteSpec } from './settings.js';

/** How this server authenticates to an upstream. The token lives only here and in request headers. */
export type Credentials = { kind: 'bearer'; token: string } | { kind: 'none' };

export const DEFAULT_TOKEN_ENV = 'HF_TOKEN';

/**
 * Finds the token for one remote model, in this order: `auth: "none"` (no token), the
 * environment variable (`HF_TOKEN`, or the spec's `tokenEnv`), then `<that name>_FILE`.
 * A token file readable or writable by group or others is refused, as ssh refuses such keys:
 * a token that leaked to other local users must not be used silently.
 * Throws NotConfigured with what to do; never puts the token in a message.
 */
export function resolveCredentials(modelName: string, remote: Pick<RemoteSpec, 'auth' | 'tokenEnv'>, env: NodeJS.ProcessEnv = process.env): Credentials {
  if (remote.auth === 'none') return { kind: 'none' };
  const variable = remote.tokenEnv ?? DEFAULT_TOKEN_ENV;
  const fileVariable = `${variable}_FILE`;
  const direct = env[variable]?.trim();
  if (direct) return { kind: 'bearer', token: checkToken(direct, variable) };
  const file = env[fileVariable]?.trim();
  if (file) return { kind: 'bearer', token: checkToken(readTokenFile(file, fileVariable), fileVariable) };
  throw new NotConfigured(
    `model "${modelName}" needs an API token: set ${variable}=<token> or ${fileVariable}=<path of a file with mode 0600> in the server's environment and restart it` +
      ` (for a local OpenAI-compatible server without authentication, set "remote": {"auth": "none"} in the model spec)`,
  );
}

function readTokenFile(file: string, fileVariable: string): string {
  let mode: number;
  try {
    const stat = statSync(file);
    if (!stat.isFile()) throw new NotConfigured(`${fileVariable}=${file} is not a regular file`);
    mode = stat.mode;
  } catch (error) {
    if (error instanceof NotConfigured) throw error;
    throw new NotConfigured(`cannot read ${fileVariable}=${file}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  if (process.platform !== 'win32' && (mode & 0o077) !== 0) {
    const octal = (mode & 0o777).toString(8).padStart(4, '0');
    throw new NotConfigured(
      `refusing to use ${fileVariable}=${file}: it is accessible by group or others (mode ${octal}); run "chmod 600 ${file}" and restart the server`,
    );
  }
  try {
    return readFileSync(file, 'utf8').trim();
  } catch (error) {
    throw new NotConfigured(`cannot read ${fileVariable}=${file}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}

/** A token goes into an HTTP header: it must be one line of visible characters. */
function checkToken(token: string, source: string): string {
  if (token === '') throw new NotConfigured(`${source} is empty`);
  if (!/^[\x21-\x7e]+$/.test(token)) throw new NotConfigured(`${source} holds whitespace or control characters; it must be the token alone`);
  return token;
}

/** Removes a secret from text that may be shown or logged (upstream error bodies can echo headers). */
export function scrubSecret(text: string, credentials: Credentials): string {
  if (credentials.kind !== 'bearer') return text;
  return text.split(credentials.token).join('[redacted]');
}
