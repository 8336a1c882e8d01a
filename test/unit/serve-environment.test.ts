import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SERVE_ENVIRONMENT } from '../../src/config/serve-environment.js';
import { REPO_ROOT } from '../helpers/server.js';

/**
 * glibc reads its allocator settings when a process starts, so `vigil serve` cannot set them on
 * itself: every launcher must. The benchmarks take SERVE_ENVIRONMENT directly; these are the
 * files a deployment runs.
 */
const read = (file: string) => readFileSync(path.join(REPO_ROOT, file), 'utf8');

/** KEY=value pairs of the Dockerfile's ENV instructions (continuation lines joined). */
function dockerEnv(text: string): Map<string, string> {
  const joined = text.replace(/\\\n/g, ' ');
  const pairs = new Map<string, string>();
  for (const line of joined.split('\n').filter((l) => /^ENV\s/.test(l))) {
    for (const [, key, value] of line.matchAll(/(\w+)=(\S+)/g)) pairs.set(key!, value!);
  }
  return pairs;
}

/** KEY=value pairs of a systemd unit's Environment= lines. */
function unitEnv(text: string): Map<string, string> {
  const pairs = new Map<string, string>();
  for (const line of text.split('\n').filter((l) => l.startsWith('Environment='))) {
    for (const [, key, value] of line.slice('Environment='.length).matchAll(/(\w+)=(\S+)/g)) pairs.set(key!, value!);
  }
  return pairs;
}

describe('the environment of vigil serve', () => {
  it('is not empty (the allocator setting is the point)', () => {
    expect(SERVE_ENVIRONMENT).toHaveProperty('MALLOC_MMAP_THRESHOLD_');
  });

  const launchers: [string, Map<string, string>][] = [
    ['deploy/docker/Dockerfile', dockerEnv(read('deploy/docker/Dockerfile'))],
    ['deploy/systemd/vigil.service', unitEnv(read('deploy/systemd/vigil.service'))],
    ['deploy/systemd/vigil-user.service', unitEnv(read('deploy/systemd/vigil-user.service'))],
  ];
  for (const [file, env] of launchers) {
    it(`is set by ${file}`, () => {
      for (const [key, value] of Object.entries(SERVE_ENVIRONMENT)) expect(env.get(key), `${key} in ${file}`).toBe(value);
    });
  }
});
