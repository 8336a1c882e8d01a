import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postJson, startVigil, type VigilProcess } from '../helpers/server.js';
import { report, round, threadCpuSeconds, target as checkTarget } from './harness.js';

/**
 * What one request costs the server thread (the one that reads every request), from the
 * kernel's per-thread CPU accounting (/proc/PID/task/PID/stat, 10 ms ticks, hence many requests
 * per figure): a text of ~1 MB is cut before tokenization, and a PNG at the pixel limit is
 * decoded and resized on the image worker, not here.
 */

let server: VigilProcess;
let pid: number;

beforeAll(async () => {
  server = await startVigil([]);
  await server.waitUntilReady();
  pid = server.process.pid!;
});
afterAll(async () => {
  await server?.stop();
});

/** Server-thread CPU milliseconds per request over `n` requests of `body` to `path`, sent one at a time. */
async function serverThreadMsPerRequest(path: string, body: unknown, n: number): Promise<{ ms: number; statuses: Set<number> }> {
  const payload = JSON.stringify(body);
  const statuses = new Set<number>();
  // Warm: the image worker starts on first use, and the JIT has seen the path.
  for (let i = 0; i < 3; i++) await postJson(`${server.url}${path}`, payload);
  const before = threadCpuSeconds(pid);
  for (let i = 0; i < n; i++) statuses.add((await postJson(`${server.url}${path}`, payload)).status);
  return { ms: ((threadCpuSeconds(pid) - before) * 1000) / n, statuses };
}

/** A 1024x1024 drawing of a "1": dark ink on white, as a phone or canvas would send it. */
function digitAtTheLimit(): string {
  const size = 1024;
  const png = new PNG({ width: size, height: size });
  png.data.fill(255);
  for (let y = 200; y < 824; y++) for (let x = 480; x < 560; x++) png.data.fill(0, (y * size + x) * 4, (y * size + x) * 4 + 3);
  return PNG.sync.write(png).toString('base64');
}

describe('CPU budget per request', () => {
  it('a 1 MB text costs <= 20 ms of server-thread CPU more than a short one', async () => {
    const text = 'a gorgeous , witty , seductive movie . '.repeat(26_500).slice(0, 1_000_000);
    const n = 30;
    const short = await serverThreadMsPerRequest('/predict', { text: 'a gorgeous , witty , seductive movie .' }, n);
    const long = await serverThreadMsPerRequest('/predict', { text }, n);
    // What the text itself costs: the same request with a short text is the baseline (HTTP,
    // JSON, logging), which a loaded machine inflates as much as anything else.
    const extra = long.ms - short.ms;
    report('cpu-budget-text', { text_bytes: text.length, requests: n, short_ms_per_request: round(short.ms), long_ms_per_request: round(long.ms), text_cost_ms: round(extra) });
    expect([...long.statuses]).toEqual([200]);
    checkTarget('cpu-budget-text', 'server-thread ms for a 1 MB text over a short one', extra, '<= 20', extra <= 20);
  });

  it('a PNG at the pixel limit (1024x1024) costs <= 5 ms of server-thread CPU more than the same request with pixels', async () => {
    const image = digitAtTheLimit();
    const n = 30;
    const pixels = await serverThreadMsPerRequest('/v1/models/digits/predict', { pixels: Array(784).fill(0) }, n);
    const png = await serverThreadMsPerRequest('/v1/models/digits/predict', { image }, n);
    const extra = png.ms - pixels.ms;
    report('cpu-budget-image', { png_bytes: Buffer.from(image, 'base64').length, width: 1024, height: 1024, requests: n, pixels_ms_per_request: round(pixels.ms), png_ms_per_request: round(png.ms), image_cost_ms: round(extra) });
    expect([...png.statuses]).toEqual([200]);
    checkTarget('cpu-budget-image', 'server-thread ms for a PNG at the limit over pixels', extra, '<= 5', extra <= 5);
  });
});
