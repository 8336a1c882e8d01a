#!/usr/bin/env node
// Captures docs/images/playground.png: the default `vigil serve` (built dist/), Debian's Chromium
// driven by playwright-core, the sentiment tab after one prediction, 1280x900.
//   npm run build && node scripts/capture-playground.mjs     (CHROMIUM_PATH to use another browser)
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const out = path.join(root, 'docs', 'images', 'playground.png');
const server = spawn(process.execPath, [path.join(root, 'dist', 'cli', 'main.js'), 'serve', '--host', '127.0.0.1', '--port', '0', '--grpc-port', '0'], {
  cwd: root,
  env: { ...process.env, HF_TOKEN: undefined, HF_TOKEN_FILE: undefined },
  stdio: ['ignore', 'pipe', 'pipe'],
});
try {
  const url = await new Promise((resolve, reject) => {
    let log = '';
    server.stdout.on('data', (c) => {
      log += c;
      const m = /"url":"(http:[^"]+)","models"/.exec(log);
      if (m) resolve(m[1]);
    });
    server.once('exit', (code) => reject(new Error(`vigil serve exited with ${code}`)));
  });
  for (let i = 0; i < 240 && (await fetch(`${url}/ready`)).status !== 200; i++) await new Promise((r) => setTimeout(r, 250));
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu'] });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(url);
    await page.waitForSelector('.model-chip[data-model="sentiment"][data-state="ready"]');
    await page.locator('#sentiment-text, textarea').first().fill('What a wonderful, heartwarming film. I loved every minute of it.');
    // Twice: the first request of a fresh server pays for lazy start-up work; show a warm one.
    for (let i = 0; i < 2; i++) {
      await page.getByRole('button', { name: 'Analyze sentiment' }).click();
      await page.waitForSelector('#sentiment-result .prediction__label');
      await page.waitForTimeout(500);
    }
    await page.waitForTimeout(300);
    await page.screenshot({ path: out });
    console.log(`wrote ${out}`);
  } finally {
    await browser.close();
  }
} finally {
  server.kill('SIGTERM');
}
