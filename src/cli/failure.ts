import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * What a command prints when it fails for a reason its user can fix: one line that says what
 * went wrong and what to do, never a stack trace (VIGIL_DEBUG=1 adds the stack, for bug reports).
 */

const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The package a failed import or require was looking for, if that is what the error is. */
export function missingPackage(error: unknown): string | undefined {
  const e = error as NodeJS.ErrnoException | undefined;
  if (!e || (e.code !== 'ERR_MODULE_NOT_FOUND' && e.code !== 'MODULE_NOT_FOUND')) return undefined;
  const m = /Cannot find (?:package|module) '((?:@[^/']+\/)?[^/']+)/.exec(e.message);
  const name = m?.[1];
  // A relative path or a file of Vigil's own is a broken build, not a missing package.
  return name && !name.startsWith('.') && !name.startsWith('/') ? name : undefined;
}

/** The range package.json asks for (devDependencies first: that is where the optional tools live). */
function wantedRange(name: string): string | undefined {
  try {
    const pkg = JSON.parse(readFileSync(resolve(packageRoot, 'package.json'), 'utf8')) as Record<string, Record<string, string> | undefined>;
    return pkg.devDependencies?.[name] ?? pkg.dependencies?.[name] ?? pkg.optionalDependencies?.[name];
  } catch {
    return undefined;
  }
}

/** Errors from the file system and the network that a user causes and can fix. */
const USER_ERRNO: Record<string, string> = {
  EADDRINUSE: 'the port is in use by another process: stop it or choose another --port',
  EACCES: 'permission denied',
  EADDRNOTAVAIL: 'that address is not on this machine: check --host',
  ENOENT: 'no such file or folder',
  EROFS: 'the file system is read-only there',
};

export function describeFailure(command: string, error: unknown): string {
  const pkg = missingPackage(error);
  if (pkg) {
    const range = wantedRange(pkg);
    const spec = range ? `${pkg}@${range}` : pkg;
    return (
      `vigil ${command}: needs the package ${pkg}, which production installs (npm ci --omit=dev) leave out. ` +
      `Install it in ${packageRoot} with \`npm install --no-save ${spec}\` (or run npm ci with dev dependencies) and run the command again.`
    );
  }
  const e = error as NodeJS.ErrnoException | undefined;
  const message = e instanceof Error ? e.message : String(error);
  const hint = e?.code ? USER_ERRNO[e.code] : undefined;
  return `vigil ${command}: ${message}${hint && !message.includes(hint) ? ` (${hint})` : ''}`;
}

/** Prints the failure; the stack only with VIGIL_DEBUG=1. */
export function reportFailure(command: string, error: unknown): void {
  console.error(describeFailure(command, error));
  if (process.env.VIGIL_DEBUG === '1' && error instanceof Error && error.stack) console.error(error.stack);
}

/** The version in package.json, for `vigil --version`. */
export function vigilVersion(): string {
  try {
    return (JSON.parse(readFileSync(resolve(packageRoot, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}
