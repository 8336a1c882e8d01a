import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, recordForeignRequests, requireChromium, screenshot } from '../helpers/browser.js';
import { getJson, postJson, REPO_ROOT, startVigil, type VigilProcess } from '../helpers/server.js';
import { requireShared, sharedPath } from '../helpers/shared.js';
import { probability } from '../../ui/src/lib/format.js';

/**
 * The web playground in real Chromium against the real built server: what the page shows must
 * be what the JSON API answers, and tabs whose model is not loaded must say so.
 */

const EMBEDDED_SENTIMENT = path.join(REPO_ROOT, 'models', 'sentiment');
const hasEmbedded = existsSync(path.join(EMBEDDED_SENTIMENT, '1', 'vigil.model.json'));

/** The sentiment model to serve: the embedded one, else the shared random-weights fixture. */
function sentimentFolder(): string | undefined {
  if (hasEmbedded) return EMBEDDED_SENTIMENT;
  if (requireShared('models/distilbert-arch-random', 'web playground e2e (no embedded sentiment model yet)')) return sharedPath('models', 'distilbert-arch-random');
  return undefined;
}

const folder = sentimentFolder();
const canRun = requireChromium('web playground e2e') && folder !== undefined;

const run = promisify(execFile);
/** Small enough that the error test can exceed it from the text box. */
const BODY_LIMIT = 8192;

const TEXT = 'What a wonderful, heartwarming film. I loved every minute of it.';

async function openPlayground(browser: Browser, url: string, hash = '') {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const foreign = recordForeignRequests(page, url);
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  await page.goto(`${url}/${hash}`);
  return { page, foreign, errors };
}

/** Reads the confidence bars as the user sees them: label -> [aria-valuenow, CSS width %]. */
async function readBars(page: Page, scope: string) {
  return page.$$eval(`${scope} .bar`, (rows) =>
    rows.map((row) => ({
      label: row.getAttribute('data-label') ?? '',
      meter: Number(row.querySelector('[role="meter"]')?.getAttribute('aria-valuenow')),
      width: parseFloat((row.querySelector('.bar__fill') as HTMLElement | null)?.style.width ?? 'NaN'),
      text: row.querySelector('.bar__value')?.textContent ?? '',
    })),
  );
}

describe.skipIf(!canRun)('web playground (sentiment served alone)', () => {
  let browser: Browser;
  let server: VigilProcess;

  beforeAll(async () => {
    [browser, server] = await Promise.all([launchChromium(), startVigil(['--no-embedded', '--model', `sentiment=${folder}`, '--body-limit', String(BODY_LIMIT)])]);
    await server.waitUntilReady();
  });

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('shows the loaded model in the header, with its state and links to the API docs and metrics', async () => {
    const { page, foreign, errors } = await openPlayground(browser, server.url);
    const chip = page.locator('.model-chip[data-model="sentiment"]');
    await chip.waitFor();
    await page.waitForSelector('.model-chip[data-model="sentiment"][data-state="ready"]');
    expect(await chip.textContent()).toContain('ready');
    await page.waitForSelector('.status-pill[data-ready="true"]');
    expect(await page.locator('.status-pill').textContent()).toContain('Ready');
    expect(await page.locator('.topbar a[href="/docs"]').count()).toBe(1);
    expect(await page.locator('.topbar a[href="/metrics"]').count()).toBe(1);
    // The sentiment tab comes first and is the one open by default.
    expect(await page.locator('[role="tab"]').first().getAttribute('aria-selected')).toBe('true');
    expect(await page.locator('[role="tab"]').first().textContent()).toContain('Analyze sentiment');
    expect(foreign).toEqual([]);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('analyzes a text and shows the label and a confidence bar per label, as the API returns them', async () => {
    const { page, foreign, errors } = await openPlayground(browser, server.url);
    await page.getByLabel('Text to analyze').fill(TEXT);
    await page.getByRole('button', { name: 'Analyze sentiment' }).click();
    const prediction = page.locator('#sentiment-result .prediction');
    await prediction.waitFor();

    const api = await postJson(`${server.url}/v1/models/sentiment/predict`, { text: TEXT });
    expect(api.status).toBe(200);
    const { label, scores, model, version } = api.body as { label: string; scores: Record<string, number>; model: string; version: string };

    expect(await prediction.getAttribute('data-label')).toBe(label);
    expect((await page.locator('#sentiment-result .prediction__label').textContent())?.trim()).toBe(label);
    const bars = await readBars(page, '#sentiment-result');
    expect(bars.map((b) => b.label).sort()).toEqual(Object.keys(scores).sort());
    for (const bar of bars) {
      const score = scores[bar.label]!;
      expect(bar.meter).toBeCloseTo(score * 100, 1);
      expect(bar.width).toBeCloseTo(score * 100, 3);
      expect(bar.text).toBe(probability(score));
    }
    // The winner is drawn first and highlighted.
    expect(bars[0]!.label).toBe(label);
    expect(await page.locator(`#sentiment-result .bar--winner[data-label="${label}"]`).count()).toBe(1);
    expect(await page.locator('#sentiment-result .meta__latency').textContent()).toMatch(/^\d+(\.\d+)? (ms|s)$/);
    expect(await page.locator('#sentiment-result .meta').textContent()).toContain(`${model} v${version}`);

    await screenshot(page, 'ui-sentiment.png');
    expect(foreign).toEqual([]);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('runs an example chip and explains an empty text instead of sending it', async () => {
    const { page } = await openPlayground(browser, server.url);
    await page.getByRole('button', { name: 'This is the worst day ever.' }).click();
    await page.locator('#sentiment-result .prediction').waitFor();
    const api = await postJson(`${server.url}/v1/models/sentiment/predict`, { text: 'This is the worst day ever.' });
    expect(await page.locator('#sentiment-result .prediction').getAttribute('data-label')).toBe(api.body.label);
    expect(await page.getByLabel('Text to analyze').inputValue()).toBe('This is the worst day ever.');

    await page.getByLabel('Text to analyze').fill('   ');
    await page.getByLabel('Text to analyze').press('Control+Enter');
    await page.locator('#sentiment-result .notice').waitFor();
    expect(await page.locator('#sentiment-result').textContent()).toContain('Type or pick some text first');
    await page.close();
  });

  it('shows a curl command that makes the same request, quoting included', async () => {
    const { page } = await openPlayground(browser, server.url);
    const text = `It's not "bad" at all; it's $great!`;
    await page.getByLabel('Text to analyze').fill(text);
    await page.getByRole('button', { name: 'Analyze sentiment' }).click();
    await page.locator('#sentiment-result .prediction').waitFor();
    const command = (await page.locator('.snippet__code').first().textContent()) ?? '';
    expect(command).toContain(`${server.url}/v1/models/sentiment/predict`);
    const { stdout } = await run('sh', ['-c', command]);
    const answer = JSON.parse(stdout) as { label: string; score: number };
    expect(answer.label).toBe(await page.locator('#sentiment-result .prediction').getAttribute('data-label'));
    expect(answer.score).toBe(Number(await page.locator('#sentiment-result .prediction').getAttribute('data-score')));
    await page.close();
  });

  it('says when the text was longer than the model reads, exactly when the API says it was cut', async () => {
    const { page } = await openPlayground(browser, server.url);
    const result = page.locator('#sentiment-result');
    // A short text, then one past any model's maximum length (600 tokens > 512) but within the body limit.
    for (const [text, cut] of [['Short and sweet.', false], ['very '.repeat(600) + 'good', true]] as const) {
      const api = await postJson(`${server.url}/v1/models/sentiment/predict`, { text });
      expect(api.status).toBe(200);
      expect(api.body.truncated).toBe(cut);
      await page.getByLabel('Text to analyze').fill(text);
      await page.getByRole('button', { name: 'Analyze sentiment' }).click();
      await page.waitForSelector(`#sentiment-result .prediction[data-truncated="${cut}"]`);
      expect(await result.getByRole('note').count()).toBe(cut ? 1 : 0);
    }
    expect(await result.getByRole('note').textContent()).toContain('only its beginning was used');
    await page.close();
  });

  it('explains a request the server refuses in plain words, with the server’s code for operators', async () => {
    const { page, errors } = await openPlayground(browser, server.url);
    const long = 'This sentence is far too long for this server. '.repeat(Math.ceil((BODY_LIMIT * 2) / 48));
    await page.getByLabel('Text to analyze').fill(long);
    await page.getByRole('button', { name: 'Analyze sentiment' }).click();
    const alert = page.locator('#sentiment-result [role="alert"]');
    await alert.waitFor();
    const api = await postJson(`${server.url}/v1/models/sentiment/predict`, { text: long });
    expect(api.status).toBe(413);
    expect(await alert.getAttribute('data-error-code')).toBe(api.body.error.code);
    expect(await alert.locator('.notice__title').textContent()).toBe('That input is too large for this server.');
    expect(await alert.textContent()).toContain(`HTTP ${api.status}`);
    await screenshot(page, 'ui-error.png');
    // The button is usable again for a shorter text.
    expect(await page.getByRole('button', { name: 'Analyze sentiment' }).isEnabled()).toBe(true);
    expect(errors.filter((e) => !e.includes('413'))).toEqual([]);
    await page.close();
  });

  it('explains, on each tab whose model is not loaded, why it cannot be used', async () => {
    const models = await getJson(`${server.url}/v1/models`);
    expect((models.body as { models: { name: string }[] }).models.map((m) => m.name)).toEqual(['sentiment']);
    const { page, errors } = await openPlayground(browser, server.url);
    for (const [tab, model] of [
      ['Generate positive thought', 'positive-thought'],
      ['Spam check', 'spam'],
      ['Digits', 'digits'],
      ['Air quality', 'air-quality'],
    ] as const) {
      await page.getByRole('tab', { name: tab }).click();
      const gate = page.locator(`[role="tabpanel"]:not([hidden]) .gate[data-model="${model}"][data-availability="absent"]`);
      await gate.waitFor();
      const notice = await gate.locator('.notice').textContent();
      expect(notice).toContain(`The ${model} model isn’t loaded on this server`);
      // No form to fill in for a model that is not there.
      expect(await gate.locator('form, canvas').count()).toBe(0);
    }
    expect(errors).toEqual([]);
    await page.close();
  });

  it('shows the monitor when the server keeps a history, and says so when it does not', async () => {
    const history = await getJson(`${server.url}/v1/monitor/history`);
    const { page, errors } = await openPlayground(browser, server.url, '#monitor');
    if (history.status === 404) {
      await page.waitForSelector('.monitor[data-availability="absent"]');
      expect(await page.locator('.monitor').textContent()).toContain('doesn’t keep a monitoring history');
    } else {
      expect(history.status).toBe(200);
      await page.waitForSelector('.monitor[data-availability="ready"]');
      expect(await page.locator('.chart').count()).toBe(7);
      expect(await page.locator('.chart[data-chart="Latency"] .chart__key').count()).toBe(3);
    }
    expect(errors).toEqual([]);
    await page.close();
  });

  it('fits a phone screen without sideways scrolling, in light and dark colour schemes', async () => {
    for (const colorScheme of ['light', 'dark'] as const) {
      const page = await browser.newPage({ viewport: { width: 390, height: 844 }, colorScheme, hasTouch: true, isMobile: true });
      await page.goto(`${server.url}/`);
      await page.getByRole('button', { name: 'I am so happy today!' }).click();
      await page.locator('#sentiment-result .prediction').waitFor();
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      expect(overflow).toBeLessThanOrEqual(0);
      await screenshot(page, `ui-phone-${colorScheme}.png`);
      await page.close();
    }
  });

  it('moves between tabs with the arrow keys and keeps the open tab in the URL', async () => {
    const { page } = await openPlayground(browser, server.url);
    const first = page.getByRole('tab', { name: /Analyze sentiment/ });
    await first.focus();
    await page.keyboard.press('ArrowRight');
    const second = page.getByRole('tab', { name: /Generate positive thought/ });
    expect(await second.getAttribute('aria-selected')).toBe('true');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('tab-generate');
    expect(new URL(page.url()).hash).toBe('#generate');
    await page.keyboard.press('End');
    expect(await page.getByRole('tab', { name: 'Monitor' }).getAttribute('aria-selected')).toBe('true');
    await page.keyboard.press('ArrowRight');
    expect(await first.getAttribute('aria-selected')).toBe('true');
    expect(await page.locator('#panel-sentiment').isVisible()).toBe(true);
    await page.close();
  });
});
