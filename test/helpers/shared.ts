import { existsSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from './server.js';

/**
 * `../shared` beside the checkout holds data and fixtures that are never committed. CI always
 * has it; a user's fresh clone does not, and tests that need it skip with a visible notice.
 */
export const sharedDir = path.resolve(REPO_ROOT, '..', 'shared');
export const hasShared = existsSync(sharedDir);

export const sharedPath = (...parts: string[]) => path.join(sharedDir, ...parts);

/** True when the fixture exists; otherwise prints why the caller's tests are skipped. */
export function requireShared(relative: string, what: string): boolean {
  const present = existsSync(sharedPath(relative));
  if (!present) console.warn(`[skipped] ${what}: ../shared/${relative} is not present (it ships with CI, not with the repository)`);
  return present;
}
