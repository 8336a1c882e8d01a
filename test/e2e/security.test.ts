import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM_ARGS, CHROMIUM_PATH, requireChromium, screenshot } from '../helpers/browser.js';
import { getJson, postJson, startVigil, type VigilProcess } from '../helpers/server.js';

/**
 * The browser side of docs/security.md, in real Chromium against the real server with the
 * embedded models: every playground tab works under the server's Content-Security-Policy with no
 * violation reported, Swagger UI too; a real cross-site form and a no-cors fetch from another
 * origin reach the server and are refused (nothing recorded); a page on a rebound DNS name gets
 * 421 from the Host allowlist.
 */

const canRun = requireChromium('security e2e (CSP, cross-site form, DNS rebinding)');
const REBOUND = 'rebind.attacker.example';

/** Collects CSP violations as the page sees them, before any of its scripts run. */
const RECORD_VIOLATIONS = () => {
  const seen: string[] = [];
  (window as unknown as { __csp: string[] }).__csp = seen;
  document.addEventListener('securitypolicyviolation', (event) => seen.push(`${event.violatedDirective} ${event.blockedURI}`));
};

async function metric(base: string, name: string, labels: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const escaped = labels.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const match = new RegExp(`^${name}\\{${escaped}\\} (\\S+)$`, 'm').exec(text);
  return match ? Number(match[1]) : 0;
}

describe.skipIf(!canRun)('security in the browser', () => {
  let browser: Browser;
  let server: VigilProcess;
  let attacker: Server;
  let attackerUrl: string;
  /** The page the attacker's site serves; set per test. */
  let attackPage = '';

  beforeAll(async () => {
    // The rebound name resolves to 127.0.0.1, as an attacker's DNS would answer after the first load.
    [browser, server] = await Promise.all([
      chromium.launch({ executablePath: CHROMIUM_PATH, args: [...CHROMIUM_ARGS, `--host-resolver-rules=MAP ${REBOUND} 127.0.0.1`] }),
      startVigil([]),
    ]);
    attacker = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end(attackPage));
    await new Promise<void>((resolve) => attacker.listen(0, '127.0.0.1', resolve));
    // Another origin: "localhost" and another port, where Vigil is on 127.0.0.1.
    attackerUrl = `http://localhost:${(attacker.address() as AddressInfo).port}`;
    await server.waitUntilReady();
  });

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    await new Promise((resolve) => attacker?.close(resolve));
  });

  async function open(url: string) {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.addInitScript(RECORD_VIOLATIONS);
    const console: string[] = [];
    page.on('console', (message) => console.push(`${message.type()}: ${message.text()}`));
    page.on('pageerror', (error) => console.push(`pageerror: ${error.message}`));
    const response = await page.goto(url);
    return { page, console, response };
  }

  const violations = (page: Page) => page.evaluate(() => (window as unknown as { __csp: string[] }).__csp);
  const cspMessages = (lines: string[]) => lines.filter((line) => /Content Security Policy|Refused to/i.test(line));

  async function settled(page: Page, model: string): Promise<string> {
    await page.waitForFunction((name) => {
      const value = document.querySelector(`.gate[data-model="${name}"]`)?.getAttribute('data-availability');
      return value !== undefined && value !== 'checking' && value !== 'loading';
    }, model);
    return (await page.locator(`.gate[data-model="${model}"]`).getAttribute('data-availability')) ?? '';
  }

  it('runs every playground tab under the CSP with no violation, and each tab does its job', async () => {
    const { page, console, response } = await open(`${server.url}/`);
    expect(response?.headers()['content-security-policy']).toContain("script-src 'self'");
    await page.waitForSelector('.status-pill[data-ready="true"]');
    const models = ((await getJson(`${server.url}/v1/models`)).body as { models: { name: string; state: string }[] }).models;
    const ready = (name: string) => models.some((m) => m.name === name && m.state === 'ready');
    const tried: string[] = [];

    if (ready('sentiment')) {
      await page.goto(`${server.url}/#sentiment`);
      await page.getByLabel('Text to analyze').fill('What a wonderful, heartwarming film.');
      await page.getByRole('button', { name: 'Analyze sentiment' }).click();
      await page.locator('#sentiment-result .prediction').waitFor();
      // The confidence bars are sized through the CSSOM, which the CSP allows.
      const width = await page.$eval('#sentiment-result .bar__fill', (el) => (el as HTMLElement).style.width);
      expect(width).toMatch(/%$/);
      tried.push('sentiment');
    }
    if (ready('spam')) {
      await page.goto(`${server.url}/#spam`);
      await page.getByLabel('Message or e-mail to check').fill('WINNER!! Claim your FREE cash prize now.');
      await page.getByRole('button', { name: 'Check for spam' }).click();
      await page.locator('#spam-result .prediction').waitFor();
      tried.push('spam');
    }
    if (ready('digits')) {
      await page.goto(`${server.url}/#digits`);
      expect(await settled(page, 'digits')).toBe('ready');
      await page.getByRole('button', { name: 'Draw a sample 7' }).click();
      await page.waitForSelector('#digits-result .prediction[data-label="7"]');
      tried.push('digits');
    }
    if (ready('air-quality')) {
      await page.goto(`${server.url}/#air-quality`);
      expect(await settled(page, 'air-quality')).toBe('ready');
      await page.locator('#panel-air-quality').getByRole('button', { name: 'Predict' }).click();
      await page.locator('#aq-result .prediction').waitFor();
      tried.push('air-quality');
    }
    // Generation needs HF_TOKEN: the tab must still say why, under the same policy.
    await page.goto(`${server.url}/#generate`);
    expect(await settled(page, 'positive-thought')).not.toBe('checking');
    tried.push('generate');
    // The monitor draws its charts (with legend swatches coloured through the CSSOM).
    await page.goto(`${server.url}/#monitor`);
    await page.waitForSelector('.monitor[data-availability="ready"] .chart');
    await page.waitForSelector('.chart__swatch');
    expect(await page.$eval('.chart__swatch', (el) => (el as HTMLElement).style.background)).not.toBe('');
    tried.push('monitor');

    await screenshot(page, 'security-csp-monitor.png');
    expect(tried).toEqual(expect.arrayContaining(['generate', 'monitor']));
    expect(await violations(page)).toEqual([]);
    expect(cspMessages(console)).toEqual([]);
    expect(console.filter((line) => line.startsWith('pageerror'))).toEqual([]);
    await page.close();
  });

  it('runs Swagger UI at /docs under the CSP with no violation', async () => {
    const { page, console, response } = await open(`${server.url}/docs`);
    expect(response?.headers()['content-security-policy']).toContain("frame-ancestors 'none'");
    await page.waitForSelector('.opblock', { timeout: 30_000 });
    expect(await page.locator('.opblock').count()).toBeGreaterThan(10);
    await page.waitForTimeout(500); // lets late style and image loads report
    expect(await violations(page)).toEqual([]);
    expect(cspMessages(console)).toEqual([]);
    await page.close();
  });

  it('the CSP is enforced, not decorative: an injected inline script is refused and reported', async () => {
    const { page } = await open(`${server.url}/`);
    await page.waitForSelector('.status-pill');
    const ran = await page.evaluate(() => {
      const script = document.createElement('script');
      script.textContent = 'window.__injected = true';
      document.body.appendChild(script);
      return (window as unknown as { __injected?: boolean }).__injected === true;
    });
    expect(ran).toBe(false);
    await page.waitForFunction(() => (window as unknown as { __csp: string[] }).__csp.length > 0);
    expect((await violations(page))[0]).toMatch(/^script-src/);
    await page.close();
  });

  it('a cross-site form and a no-cors fetch reach the server and are refused with 415: no label is recorded', async () => {
    const predicted = await postJson(`${server.url}/v1/models/spam/predict`, { text: 'Lunch on Friday?' });
    expect(predicted.status).toBe(200);
    const requestId = predicted.body.request_id as string;
    const wrong = predicted.body.label === 'spam' ? 'ham' : 'spam';
    const refusedBefore = await metric(server.url, 'http_requests_total', 'method="POST",route="/v1/feedback",status="415"');
    // text/plain forms send "name=value": the classic trick to smuggle a JSON body past a server.
    const name = JSON.stringify({ request_id: requestId, label: wrong, pad: '' }).slice(0, -2);
    attackPage = `<!doctype html><body>
      <iframe name="sink"></iframe>
      <form id="f" method="POST" enctype="text/plain" target="sink" action="${server.url}/v1/feedback"><input name='${name}' value='"}'></form>
      <form id="g" method="POST" target="sink" action="${server.url}/v2/repository/models/spam/unload"><input name="x" value="1"></form>
      <script>
        fetch(${JSON.stringify(`${server.url}/v1/feedback`)}, { method: 'POST', mode: 'no-cors', body: new Blob([${JSON.stringify(JSON.stringify({ request_id: requestId, label: wrong }))}]) })
          .finally(() => { document.getElementById('f').submit(); setTimeout(() => document.getElementById('g').submit(), 300); });
      </script></body>`;
    const page = await browser.newPage();
    await page.goto(attackerUrl);
    const deadline = Date.now() + 20_000;
    while ((await metric(server.url, 'http_requests_total', 'method="POST",route="/v1/feedback",status="415"')) < refusedBefore + 2 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(await metric(server.url, 'http_requests_total', 'method="POST",route="/v1/feedback",status="415"')).toBe(refusedBefore + 2);
    // The unload form got 403 (no admin token) or 415, never a 200: spam is still served.
    const unloadDeadline = Date.now() + 10_000;
    const unloadRefused = async () =>
      (await metric(server.url, 'http_requests_total', 'method="POST",route="/v2/repository/models/:name/unload",status="403"')) +
      (await metric(server.url, 'http_requests_total', 'method="POST",route="/v2/repository/models/:name/unload",status="415"'));
    while ((await unloadRefused()) < 1 && Date.now() < unloadDeadline) await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await unloadRefused()).toBe(1);
    expect((await getJson(`${server.url}/v2/models/spam/ready`)).status).toBe(200);
    // Nothing was recorded: the true label can still be given, once.
    const honest = await postJson(`${server.url}/v1/feedback`, { request_id: requestId, label: predicted.body.label });
    expect(honest.status, JSON.stringify(honest.body)).toBe(200);
    expect(honest.body.correct).toBe(true);
    await page.close();
  });

  it('a page on a rebound DNS name gets 421 from the Host allowlist; the same server answers on localhost', async () => {
    const port = new URL(server.url).port;
    const page = await browser.newPage();
    const rebound = await page.goto(`http://${REBOUND}:${port}/v1/models`);
    expect(rebound?.status()).toBe(421);
    expect(await page.textContent('body')).toContain('misdirected_request');
    const local = await page.goto(`http://localhost:${port}/v1/models`);
    expect(local?.status()).toBe(200);
    await page.close();
  });
});
