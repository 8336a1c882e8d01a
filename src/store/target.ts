/**
 * Where the prediction log lives, from `--prediction-log` / `VIGIL_PREDICTION_LOG`:
 *
 *   (unset), ":memory:"              this process's memory (one process, lost at exit)
 *   /var/lib/vigil/p.sqlite          a SQLite file (one node); "sqlite:PATH" says the same
 *   postgres://user@host:5432/vigil  PostgreSQL, shared by every replica ("postgresql://" too)
 *
 * Anything else that looks like a URL (`mysql://…`, `postgres:/oops`) is refused with the value
 * named, so a typo can never turn into a SQLite file under a folder called "postgres:". The
 * password may sit in the URL but is never repeated: messages and logs get `redact()`'s form.
 */

export type StoreTarget =
  | { kind: 'sqlite'; path: string }
  | { kind: 'postgres'; url: string; /** The URL without its password, for messages and logs. */ redacted: string };

export class InvalidStoreTarget extends Error {}

const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):/;

/** The URL with any password replaced, for messages; a value that is not a URL comes back as is. */
export function redactUrl(raw: string): string {
  try {
    const url = new URL(raw);
    if (url.password !== '') url.password = '***';
    return url.toString();
  } catch {
    // Not parseable: hide whatever sits between "//user:" and "@", should it be a password.
    return raw.replace(/(\/\/[^/:@]*:)[^@/]*@/, '$1***@');
  }
}

export function parseStoreTarget(raw: string | undefined, what = '--prediction-log'): StoreTarget {
  if (raw === undefined || raw === '' || raw === ':memory:') return { kind: 'sqlite', path: ':memory:' };
  const scheme = SCHEME.exec(raw)?.[1]?.toLowerCase();
  // A one-letter "scheme" is a Windows drive (C:\logs\p.sqlite).
  if (scheme === undefined || scheme.length === 1) return { kind: 'sqlite', path: raw };
  if (scheme === 'sqlite') {
    const file = raw.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '');
    if (file === '') throw new InvalidStoreTarget(`${what} "${raw}": name the SQLite file after "sqlite:" (sqlite:/var/lib/vigil/predictions.sqlite)`);
    return { kind: 'sqlite', path: file };
  }
  if (scheme === 'postgres' || scheme === 'postgresql') return { kind: 'postgres', url: raw, redacted: checkPostgresUrl(raw, what) };
  throw new InvalidStoreTarget(
    `${what} "${redactUrl(raw)}": unknown backend "${scheme}" (a SQLite file path, or postgres://user@host:5432/database for PostgreSQL)`,
  );
}

function checkPostgresUrl(raw: string, what: string): string {
  const shown = redactUrl(raw);
  const form = 'postgres://user@host:5432/database';
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new InvalidStoreTarget(`${what} "${shown}" is not a valid URL: expected ${form}`);
  }
  if (!raw.slice(url.protocol.length).startsWith('//') || url.hostname === '') {
    throw new InvalidStoreTarget(`${what} "${shown}" names no host: expected ${form}`);
  }
  const database = decodeURIComponent(url.pathname.replace(/^\//, ''));
  if (database === '' || database.includes('/')) {
    throw new InvalidStoreTarget(`${what} "${shown}" names no database${database.includes('/') ? ` ("${database}" has a slash)` : ''}: expected ${form}`);
  }
  if (url.username === '') throw new InvalidStoreTarget(`${what} "${shown}" names no user: expected ${form}`);
  return shown;
}
