import { readFileSync, statSync } from 'node:fs';

/**
 * Reads a secret from a file only its owner can read (mode 0600 or stricter), as ssh insists for
 * keys: a secret that group or others can read may have leaked, and must not be used silently.
 * Messages name the file and the variable, never the content.
 */
export function readSecretFile(file: string, variable: string): string {
  let mode: number;
  try {
    const stat = statSync(file);
    if (!stat.isFile()) throw new Error(`${variable}=${file} is not a regular file`);
    mode = stat.mode;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new Error(code ? `cannot read ${variable}=${file}: ${code}` : (error as Error).message);
  }
  if (process.platform !== 'win32' && (mode & 0o077) !== 0) {
    const octal = (mode & 0o777).toString(8).padStart(4, '0');
    throw new Error(`refusing to use ${variable}=${file}: it is accessible by group or others (mode ${octal}); run "chmod 600 ${file}"`);
  }
  const secret = readFileSync(file, 'utf8').replace(/\r?\n$/, '');
  if (secret === '') throw new Error(`${variable}=${file} is empty`);
  return secret;
}
