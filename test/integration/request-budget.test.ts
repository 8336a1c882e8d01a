import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postJson, startVigil, type VigilProcess } from '../helpers/server.js';
import { rectanglePng } from '../helpers/tiny-models.js';

/**
 * What one request may cost: a text far over the model's maximum is cut before tokenization and
 * still answered (truncated), an image over the pixel or byte limit is refused with 413 naming
 * the limit before it is decoded, and one under them is decoded off the server thread with the
 * same answer as before. The CPU figures are the reliability suite's (test/reliability).
 */

let server: VigilProcess;
beforeAll(async () => {
  server = await startVigil(['--max-image-pixels', '65536', '--max-image-bytes', '20000']);
  await server.waitUntilReady();
});
afterAll(async () => {
  await server?.stop();
});

const digitPng = (size: number) => rectanglePng({ width: size, height: size, rect: { x: size * 0.45, y: size * 0.2, width: size * 0.1, height: size * 0.6 }, ink: [0, 0, 0, 255], background: [255, 255, 255, 255] });

describe('request budget', () => {
  it('a text of almost 1 MB is cut to the model and answered, marked truncated', async () => {
    const text = 'a gorgeous , witty , seductive movie . '.repeat(26_000);
    const long = await postJson(`${server.url}/predict`, { text });
    expect(long.status).toBe(200);
    expect(long.body.truncated).toBe(true);
    // The prediction is the one of the text's start (what the model sees).
    const short = await postJson(`${server.url}/predict`, { text: text.slice(0, 20_000) });
    expect(long.body.label).toBe(short.body.label);
    expect(long.body.score).toBeCloseTo(short.body.score, 6);
  });

  it('an image over the pixel limit is 413 naming the limit', async () => {
    const big = await postJson(`${server.url}/v1/models/digits/predict`, { image: digitPng(300) });
    expect(big.status).toBe(413);
    expect(big.body.error.code).toBe('payload_too_large');
    expect(big.body.error.message).toMatch(/300x300 pixels; at most 65536 pixels are accepted \(--max-image-pixels\)/);
  });

  it('an image over the byte limit is 413 naming the limit', async () => {
    // Noise does not compress: 120x120 RGBA of random bytes is ~57 KB of PNG, under the pixel limit.
    const { PNG } = await import('pngjs');
    const png = new PNG({ width: 120, height: 120 });
    for (let i = 0; i < png.data.length; i++) png.data[i] = Math.floor(Math.random() * 256);
    const noisy = PNG.sync.write(png).toString('base64');
    const answer = await postJson(`${server.url}/v1/models/digits/predict`, { image: noisy });
    expect(answer.status).toBe(413);
    expect(answer.body.error.message).toMatch(/bytes; at most 20000 bytes are accepted \(--max-image-bytes\)/);
  });

  it('an image within the limits is decoded off the server thread, the same digit as its pixels say; a broken one is 400', async () => {
    const answer = await postJson(`${server.url}/v1/models/digits/predict`, { inputs: [{ image: digitPng(200) }, { image: digitPng(28) }] });
    expect(answer.status).toBe(200);
    expect(answer.body.predictions.map((p: { label: string }) => p.label)).toEqual(['1', '1']);
    const broken = Buffer.from(digitPng(40), 'base64').subarray(0, 60).toString('base64');
    const bad = await postJson(`${server.url}/v1/models/digits/predict`, { image: broken });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/"image" could not be decoded as PNG/);
  });
});
