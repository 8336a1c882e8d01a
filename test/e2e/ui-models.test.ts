import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, recordForeignRequests, requireChromium, screenshot } from '../helpers/browser.js';
import { getJson, postJson, REPO_ROOT, startVigil, type VigilProcess } from '../helpers/server.js';
import { describeTabular } from '../../ui/src/lib/tabular.js';

/**
 * The playground against the server as shipped (`vigil serve` with the embedded models): each
 * tab whose model is loaded must work end to end and agree with the JSON API; each tab whose
 * model is not must say why. Which models exist depends on what has been trained into models/.
 */

const embedded = (name: string) => existsSync(path.join(REPO_ROOT, 'models', name));
const canRun = requireChromium('web playground e2e (embedded models)') && embedded('sentiment');

interface ModelSummary {
  name: string;
  state: string;
}

describe.skipIf(!canRun)('web playground (embedded models)', () => {
  let browser: Browser;
  let server: VigilProcess;
  let models: ModelSummary[];
  const state = (name: string) => models.find((m) => m.name === name)?.state;

  beforeAll(async () => {
    [browser, server] = await Promise.all([launchChromium(), startVigil([])]);
    await server.waitUntilReady();
    models = ((await getJson(`${server.url}/v1/models`)).body as { models: ModelSummary[] }).models;
  });

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  async function open(hash: string) {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const foreign = recordForeignRequests(page, server.url);
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(`${server.url}/${hash}`);
    return { page, foreign, errors };
  }

  /** Waits for the tab's gate to settle and returns what it decided. */
  async function availability(page: Page, model: string): Promise<string> {
    const gate = page.locator(`.gate[data-model="${model}"]`);
    await page.waitForFunction((name) => {
      const value = document.querySelector(`.gate[data-model="${name}"]`)?.getAttribute('data-availability');
      return value !== undefined && value !== 'checking' && value !== 'loading';
    }, model);
    return (await gate.getAttribute('data-availability')) ?? '';
  }

  it('lists every model the server loaded in the header', async () => {
    const { page, foreign } = await open('');
    await page.waitForSelector('.status-pill[data-ready="true"]');
    const chips = await page.$$eval('.model-chip', (els) => els.map((e) => [e.getAttribute('data-model'), e.getAttribute('data-state')]));
    expect(chips.sort()).toEqual(models.map((m) => [m.name, m.state]).sort());
    expect(foreign).toEqual([]);
    await page.close();
  });

  it('checks a message for spam and agrees with the API', async () => {
    const { page, errors } = await open('#spam');
    const found = await availability(page, 'spam');
    if (state('spam') !== 'ready') {
      expect(found).not.toBe('ready');
      await page.close();
      return;
    }
    expect(found).toBe('ready');
    const text = 'WINNER!! You have been selected for a FREE cash prize. Reply now to claim.';
    await page.getByLabel('Message or e-mail to check').fill(text);
    await page.getByRole('button', { name: 'Check for spam' }).click();
    const prediction = page.locator('#spam-result .prediction');
    await prediction.waitFor();
    const api = await postJson(`${server.url}/v1/models/spam/predict`, { text });
    expect(await prediction.getAttribute('data-label')).toBe(api.body.label);
    const shown = await page.$$eval('#spam-result .bar', (rows) => rows.map((r) => [r.getAttribute('data-label'), Number(r.getAttribute('data-score'))] as [string, number]));
    expect(Object.fromEntries(shown)).toEqual(api.body.scores);
    // A short chat message among the examples (issue 15): read as ham, in the page as in the API.
    const short = 'Thanks, see you tomorrow';
    await page.getByRole('button', { name: short }).click();
    await page.locator('#spam-result .prediction[data-label="ham"]').waitFor();
    expect((await postJson(`${server.url}/v1/models/spam/predict`, { text: short })).body.label).toBe('ham');
    await page.getByLabel('Message or e-mail to check').fill(text);
    await page.getByRole('button', { name: 'Check for spam' }).click();
    await page.locator('#spam-result .prediction[data-label="spam"]').waitFor();
    await screenshot(page, 'ui-spam.png');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('reads a digit drawn with the mouse, sending 28x28 pixels centred the MNIST way', async () => {
    const { page, errors } = await open('#digits');
    const found = await availability(page, 'digits');
    if (state('digits') !== 'ready') {
      expect(found).not.toBe('ready');
      expect(await page.locator('.gate[data-model="digits"] .notice').textContent()).toMatch(/digits/);
      await page.close();
      return;
    }
    // A "7" drawn small in the top-left corner: the preprocessing must still centre it.
    const box = (await page.locator('canvas.sketch').boundingBox())!;
    const at = (x: number, y: number) => [box.x + x * box.width, box.y + y * box.height] as const;
    const sent = page.waitForRequest((r) => r.url().endsWith('/v1/models/digits/predict'));
    await page.mouse.move(...at(0.1, 0.1));
    await page.mouse.down();
    for (const [x, y] of [[0.25, 0.1], [0.4, 0.1], [0.3, 0.25], [0.2, 0.45]] as const) await page.mouse.move(...at(x, y), { steps: 6 });
    await page.mouse.up();
    const body = JSON.parse((await sent).postData() ?? '{}') as { pixels: number[] };
    expect(body.pixels).toHaveLength(784);
    expect(body.pixels.every((v) => v >= 0 && v <= 1)).toBe(true);
    let mass = 0;
    let cx = 0;
    let cy = 0;
    body.pixels.forEach((v, i) => {
      mass += v;
      cx += v * ((i % 28) + 0.5);
      cy += v * (Math.floor(i / 28) + 0.5);
    });
    expect(Math.abs(cx / mass - 14)).toBeLessThan(1);
    expect(Math.abs(cy / mass - 14)).toBeLessThan(1);

    const prediction = page.locator('#digits-result .prediction');
    await prediction.waitFor();
    const api = await postJson(`${server.url}/v1/models/digits/predict`, body);
    expect(await prediction.getAttribute('data-label')).toBe(api.body.label);
    expect(await page.locator('#digits-result .bar').count()).toBe(Object.keys(api.body.scores).length);
    await screenshot(page, 'ui-digits.png');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('reads its own sample digits right: the drawing is preprocessed the way the model was trained', async () => {
    const { page, errors } = await open('#digits');
    if ((await availability(page, 'digits')) !== 'ready') {
      await page.close();
      return;
    }
    for (const digit of ['0', '1', '7']) {
      const sent = page.waitForResponse((r) => r.url().endsWith('/v1/models/digits/predict'));
      await page.getByRole('button', { name: `Draw a sample ${digit}` }).click();
      await sent;
      await page.waitForSelector(`#digits-result .prediction[data-label="${digit}"]`);
    }
    expect(errors).toEqual([]);
    await page.close();
  });

  it('predicts air quality from the form and agrees with the API', async () => {
    const { page, errors } = await open('#air-quality');
    const found = await availability(page, 'air-quality');
    if (state('air-quality') !== 'ready') {
      expect(found).not.toBe('ready');
      await page.close();
      return;
    }
    const detail = (await getJson(`${server.url}/v1/models/air-quality`)).body as Record<string, unknown>;
    const { features, example } = describeTabular(detail);
    expect(features.length).toBeGreaterThan(0);
    expect(Object.keys(example).length).toBe(features.length);
    const formPage = page;
    const inputs = formPage.locator('#panel-air-quality input[type="number"]');
    await inputs.first().waitFor();
    expect(await inputs.count()).toBe(features.length);
    // Every field is labelled with its feature name and starts from the spec's real reading.
    for (let i = 0; i < (await inputs.count()); i++) {
      const input = inputs.nth(i);
      expect(await formPage.locator(`label[for="${await input.getAttribute('id')}"]`).count()).toBe(1);
      expect(Number(await input.inputValue())).toBeCloseTo(example[features[i]!.name]!, 6);
    }
    const sent = formPage.waitForRequest((r) => r.url().endsWith('/v1/models/air-quality/predict'));
    await formPage.locator('#panel-air-quality').getByRole('button', { name: 'Predict' }).click();
    const body = JSON.parse((await sent).postData() ?? '{}') as { features: Record<string, number> };
    expect(Object.keys(body.features)).toHaveLength(await inputs.count());
    const prediction = formPage.locator('#aq-result .prediction');
    await prediction.waitFor();
    const api = await postJson(`${server.url}/v1/models/air-quality/predict`, body);
    expect(api.status).toBe(200);
    expect(Number(await prediction.getAttribute('data-value'))).toBeCloseTo(api.body.value, 6);
    if (api.body.unit) expect(await prediction.textContent()).toContain(api.body.unit);
    await screenshot(formPage, 'ui-air-quality.png');
    expect(errors).toEqual([]);
    await formPage.close();
  });

  it('explains the generation tab when the API model is not usable', async () => {
    const { page, errors } = await open('#generate');
    const found = await availability(page, 'positive-thought');
    const modelState = state('positive-thought');
    if (modelState === undefined) expect(found).toBe('absent');
    else if (modelState === 'unavailable') {
      expect(found).toBe('unavailable');
      expect(await page.locator('.gate[data-model="positive-thought"] .notice').textContent()).toContain('isn’t configured');
    } else if (modelState === 'ready') expect(found).toBe('ready');
    await screenshot(page, 'ui-generate.png');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('draws the monitor charts from the server history, including predictions by label', async () => {
    // Some traffic first, then wait for the server to record a sample that holds it.
    for (const text of ['I love it', 'I hate it', 'fine']) await postJson(`${server.url}/predict`, { text });
    type History = { points: { predictions?: Record<string, Record<string, number>> }[] };
    let history = await getJson(`${server.url}/v1/monitor/history`);
    const { page, errors } = await open('#monitor');
    if (history.status !== 200) {
      await page.waitForSelector('.monitor[data-availability="absent"]');
      await page.close();
      return;
    }
    const deadline = Date.now() + 30_000;
    const hasSentiment = (h: History) => h.points.some((p) => Object.values(p.predictions?.sentiment ?? {}).some((n) => n > 0));
    while (!hasSentiment(history.body as History) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      history = await getJson(`${server.url}/v1/monitor/history`);
    }
    expect(hasSentiment(history.body as History)).toBe(true);
    await page.waitForSelector('.monitor[data-availability="ready"]');
    expect(await page.locator('.chart').count()).toBe(7);
    // The page polls every few seconds: wait for it to show the sample the API already has.
    await page.waitForFunction(() => document.querySelector('.chart[data-chart="Predictions by label"] .chart__legend')?.textContent?.includes('sentiment ·'));
    expect(await page.locator('.kpis .stat').count()).toBe(5);
    expect(await page.locator('.kpis .stat').first().locator('dd').textContent()).not.toBe('–');
    expect(await page.locator('.chart[data-chart="Latency"] .chart__key').count()).toBe(3);
    await screenshot(page, 'ui-monitor.png');
    expect(errors).toEqual([]);
    await page.close();
  });
});
