import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postJson, startVigil, type VigilProcess } from '../helpers/server.js';

/**
 * `--observability off` exists so the bench can put a number on what observability costs; these
 * tests check that it really stops the per-request work (and that the default does it), so the
 * number measures what it says.
 */
const TEXTS = ['I am so happy today!', 'This is the worst day ever.', 'A fine, quiet film.'];

async function serveAndPredict(args: string[]): Promise<{ vigil: VigilProcess; metrics: string; feedback: number }> {
  const vigil = await startVigil(args);
  await vigil.waitUntilReady();
  for (const text of TEXTS) expect((await postJson(`${vigil.url}/v1/models/sentiment/predict`, { text })).status).toBe(200);
  const metrics = await (await fetch(`${vigil.url}/metrics`)).text();
  const feedback = (await postJson(`${vigil.url}/v1/feedback`, { request_id: 'nope', label: 'POSITIVE' })).status;
  return { vigil, metrics, feedback };
}

/** The value of one series in an exposition, 0 when it is absent. */
function sample(metrics: string, name: string, labels: RegExp): number {
  const line = metrics.split('\n').find((l) => l.startsWith(`${name}{`) && labels.test(l));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

describe('--observability off', () => {
  let on: Awaited<ReturnType<typeof serveAndPredict>>;
  let off: Awaited<ReturnType<typeof serveAndPredict>>;
  beforeAll(async () => {
    on = await serveAndPredict([]);
    off = await serveAndPredict(['--observability', 'off']);
  });
  afterAll(async () => {
    await Promise.all([on?.vigil.stop(), off?.vigil.stop()]);
  });

  it('counts requests and predictions by default, and not when off', () => {
    const predictRoute = /route="\/v1\/models\/:name\/predict",status="200"/;
    expect(sample(on.metrics, 'http_requests_total', predictRoute)).toBe(TEXTS.length);
    expect(sample(off.metrics, 'http_requests_total', predictRoute)).toBe(0);
    const sentiment = /model="sentiment"/;
    const predictionsOn = on.metrics.split('\n').filter((l) => l.startsWith('vigil_predictions_total{') && sentiment.test(l));
    expect(predictionsOn.reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0)).toBe(TEXTS.length);
    expect(off.metrics.split('\n').filter((l) => l.startsWith('vigil_predictions_total{') && sentiment.test(l))).toEqual([]);
  });

  it('writes a log line per request by default, and none when off', () => {
    const requestLines = (vigil: VigilProcess) => vigil.logs.filter((l) => l.includes('"msg":"request"') && l.includes('/predict')).length;
    expect(requestLines(on.vigil)).toBe(TEXTS.length);
    expect(requestLines(off.vigil)).toBe(0);
    expect(off.vigil.logs.some((l) => l.includes('observability is off'))).toBe(true);
  });

  it('keeps no prediction log when off, so feedback says so (503) instead of looking labels up', () => {
    expect(on.feedback).toBe(404);
    expect(off.feedback).toBe(503);
  });
});
