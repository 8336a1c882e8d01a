import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, recordForeignRequests, requireChromium, screenshot } from '../helpers/browser.js';
import { REPO_ROOT, startVigil, type VigilProcess } from '../helpers/server.js';
import { existsSync } from 'node:fs';

/**
 * The generation tab end to end: Chromium -> Vigil's remote runtime -> a real HTTP server that
 * speaks the OpenAI chat-completions protocol (the part of the world this test replaces is the
 * hosted LLM, nothing of Vigil). The upstream holds its stream open after the first chunk until
 * the test has seen that chunk on the page, which proves tokens are shown as they arrive
 * without any timing assumption.
 */

const hasSentiment = existsSync(path.join(REPO_ROOT, 'models', 'sentiment', '1', 'vigil.model.json'));
const canRun = requireChromium('generation tab e2e') && hasSentiment;

const CHUNKS = ['Failing once ', 'is how drivers ', 'learn; next time ', 'you will pass.'];

/** A minimal OpenAI-compatible upstream: streams CHUNKS, pausing after the first one. */
class FakeChatUpstream {
  readonly requests: { messages: { role: string; content: string }[]; stream?: boolean }[] = [];
  /** What the next request gets: a stream, or an HTTP error status. */
  mode: 'stream' | 401 = 'stream';
  private release: (() => void) | undefined;
  private readonly server: Server = createServer((req, res) => void this.handle(req, res));

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v1`;
  }

  /** Lets the held stream finish. */
  continue(): void {
    this.release?.();
  }

  async stop(): Promise<void> {
    this.release?.();
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private async handle(req: IncomingMessage, res: ServerResponse) {
    let raw = '';
    for await (const chunk of req) raw += chunk;
    if (req.method !== 'POST' || req.url !== '/v1/chat/completions') {
      res.writeHead(404).end();
      return;
    }
    this.requests.push(JSON.parse(raw));
    if (this.mode === 401) {
      res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'Invalid credentials in Authorization header' }));
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    const send = (content: string) => res.write(`data: ${JSON.stringify({ choices: [{ index: 0, delta: { content } }] })}\n\n`);
    send(CHUNKS[0]!);
    await new Promise<void>((resolve) => (this.release = resolve));
    this.release = undefined;
    for (const chunk of CHUNKS.slice(1)) send(chunk);
    res.write(`data: ${JSON.stringify({ choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })}\n\n`);
    res.end('data: [DONE]\n\n');
  }
}

describe.skipIf(!canRun)('web playground: generation tab', () => {
  let browser: Browser;
  let server: VigilProcess;
  let modelDir: string;
  const upstream = new FakeChatUpstream();

  beforeAll(async () => {
    const baseUrl = await upstream.start();
    modelDir = mkdtempSync(path.join(os.tmpdir(), 'vigil-generate-'));
    writeFileSync(
      path.join(modelDir, 'vigil.model.json'),
      JSON.stringify({
        name: 'positive-thought',
        version: '1',
        task: 'text-generation',
        runtime: 'remote',
        description: 'Test double of the hosted generator, served by a local OpenAI-compatible server.',
        remote: { baseUrl, model: 'test/echo', auth: 'none', maxTokens: 64, timeoutMs: 30_000, retry: { maxRetries: 0 } },
      }),
    );
    [browser, server] = await Promise.all([
      launchChromium(),
      startVigil(['--no-embedded', '--model', `sentiment=${path.join(REPO_ROOT, 'models', 'sentiment')}`, '--model', `positive-thought=${modelDir}`]),
    ]);
    await server.waitUntilReady();
  });

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    await upstream.stop();
    if (modelDir) rmSync(modelDir, { recursive: true, force: true });
  });

  it('streams the thought into the page as it arrives, after passing the local sentiment along', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const foreign = recordForeignRequests(page, server.url);
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(`${server.url}/#generate`);
    await page.waitForSelector('.gate[data-model="positive-thought"][data-availability="ready"]');
    await page.getByLabel('Tell the model how you feel').fill('I failed my driving test today.');
    const mood = page.getByLabel(/Match the mood/);
    expect(await mood.isChecked()).toBe(true);
    await page.getByRole('button', { name: 'Generate a positive thought' }).click();

    // The first chunk is on the page while the upstream still holds the rest back.
    await page.waitForFunction((first) => document.querySelector('.generation__text')?.textContent === first, CHUNKS[0]);
    expect(await page.locator('.generation').getAttribute('aria-busy')).toBe('true');
    expect(await page.getByRole('button', { name: 'Stop' }).isEnabled()).toBe(true);
    // The sentiment of the text went to the model with the prompt.
    const moodLabel = (await page.locator('.generation__mood .pill').textContent())?.trim();
    expect(moodLabel).toMatch(/^(POSITIVE|NEGATIVE)$/);
    const sent = JSON.stringify(upstream.requests.at(-1)?.messages);
    expect(sent).toContain('I failed my driving test today.');
    expect(sent).toContain(moodLabel!);

    upstream.continue();
    await page.waitForSelector('.generation[data-done="true"]');
    expect(await page.locator('.generation__text').textContent()).toBe(CHUNKS.join(''));
    expect(await page.locator('.generation .meta').textContent()).toContain('positive-thought v1');
    expect(await page.getByRole('button', { name: 'Stop' }).isDisabled()).toBe(true);
    await screenshot(page, 'ui-generate-stream.png');
    expect(foreign).toEqual([]);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('explains an upstream failure in plain words, keeping the code for operators', async () => {
    upstream.mode = 401;
    const page = await browser.newPage();
    await page.goto(`${server.url}/#generate`);
    await page.waitForSelector('.gate[data-model="positive-thought"][data-availability="ready"]');
    await page.getByLabel('Tell the model how you feel').fill('Work has been overwhelming this week.');
    await page.getByRole('button', { name: 'Generate a positive thought' }).click();
    const alert = page.locator('#generate-result [role="alert"]');
    await alert.waitFor();
    expect(await alert.getAttribute('data-error-code')).toBe('auth_failed');
    expect(await alert.textContent()).toContain('rejected this server’s credentials');
    expect(await page.getByRole('button', { name: 'Generate a positive thought' }).isEnabled()).toBe(true);
    await page.close();
  });
});
