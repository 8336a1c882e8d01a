import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { niceCeiling } from '../../ui/src/components/line-chart.js';
import { probability } from '../../ui/src/lib/format.js';
import { centreOfMass, inkBounds, MNIST_SIZE, toMnistPixels, type Gray } from '../../ui/src/lib/mnist.js';
import { readSse, SseParser, type SseEvent } from '../../ui/src/lib/sse.js';
import { describeTabular } from '../../ui/src/lib/tabular.js';
import { REPO_ROOT } from '../helpers/server.js';

/**
 * The playground's logic that does not need a browser: the event-stream parser the generation
 * tab reads tokens with, the MNIST preprocessing of drawings, the tabular spec reader and the
 * number formats. (The browser tests in ui.test.ts cover the pages themselves.)
 */

const STREAM =
  'event: token\ndata: {"text":"You "}\n\n' +
  ': keep-alive comment\n\n' +
  'event: token\r\ndata: {"text":"did it."}\r\n\r\n' +
  'event: done\ndata: {"text":"You did it.",\ndata: "model":"positive-thought"}\n\n';

const EXPECTED: SseEvent[] = [
  { event: 'token', data: '{"text":"You "}' },
  { event: 'token', data: '{"text":"did it."}' },
  { event: 'done', data: '{"text":"You did it.",\n"model":"positive-thought"}' },
];

describe('SseParser', () => {
  it('parses token and done events with LF and CRLF line ends, comments and multi-line data', () => {
    const parser = new SseParser();
    expect([...parser.push(STREAM), ...parser.end()]).toEqual(EXPECTED);
  });

  it('gives the same events wherever the network splits the stream', () => {
    for (let cut = 1; cut < STREAM.length; cut++) {
      const parser = new SseParser();
      const events = [...parser.push(STREAM.slice(0, cut)), ...parser.push(STREAM.slice(cut)), ...parser.end()];
      expect(events, `split at ${cut}`).toEqual(EXPECTED);
    }
  });

  it('dispatches a last event that the stream ended without a blank line after', () => {
    const parser = new SseParser();
    expect(parser.push('event: error\ndata: {"error":{"code":"upstream_timeout"}}')).toEqual([]);
    expect(parser.end()).toEqual([{ event: 'error', data: '{"error":{"code":"upstream_timeout"}}' }]);
  });

  it('calls an event without an event line "message" and ignores events without data', () => {
    const parser = new SseParser();
    expect(parser.push('event: token\n\ndata: hello\n\n')).toEqual([{ event: 'message', data: 'hello' }]);
  });

  it('decodes UTF-8 characters split across network chunks', async () => {
    const bytes = new TextEncoder().encode('event: token\ndata: {"text":"Bravo 🎉 è"}\n\n');
    const emoji = bytes.indexOf(0xf0);
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(bytes.slice(0, emoji + 2));
        controller.enqueue(bytes.slice(emoji + 2));
        controller.close();
      },
    });
    const events: SseEvent[] = [];
    for await (const event of readSse(body)) events.push(event);
    expect(events).toEqual([{ event: 'token', data: '{"text":"Bravo 🎉 è"}' }]);
  });
});

/** A black canvas with white rectangles, as the digits tab would read it. */
function canvas(width: number, height: number, rects: [number, number, number, number][]): Gray {
  const data = new Float32Array(width * height);
  for (const [x0, y0, w, h] of rects) for (let y = y0; y < y0 + h; y++) for (let x = x0; x < x0 + w; x++) data[y * width + x] = 1;
  return { data, width, height };
}

describe('toMnistPixels', () => {
  it('returns 784 zeros for a blank drawing', () => {
    const pixels = toMnistPixels(canvas(280, 280, []));
    expect(pixels).toHaveLength(MNIST_SIZE * MNIST_SIZE);
    expect(pixels.every((v) => v === 0)).toBe(true);
  });

  it('centres a digit drawn small in a corner by its mass, in a 20-pixel box', () => {
    // An "L" shape in the top-left corner: its centre of mass is not its box centre.
    const pixels = toMnistPixels(canvas(280, 280, [[10, 10, 12, 60], [10, 58, 40, 12]]));
    const mass = centreOfMass(pixels, MNIST_SIZE, MNIST_SIZE);
    expect(Math.abs(mass.x - 14)).toBeLessThanOrEqual(0.5);
    expect(Math.abs(mass.y - 14)).toBeLessThanOrEqual(0.5);
    const box = inkBounds({ data: pixels, width: MNIST_SIZE, height: MNIST_SIZE })!;
    expect(Math.max(box.x1 - box.x0, box.y1 - box.y0)).toBe(20);
    expect(pixels.every((v) => v >= 0 && v <= 1)).toBe(true);
  });

  it('keeps the aspect ratio: a tall thin stroke stays tall and thin', () => {
    const pixels = toMnistPixels(canvas(280, 280, [[130, 40, 20, 200]]));
    const box = inkBounds({ data: pixels, width: MNIST_SIZE, height: MNIST_SIZE })!;
    expect(box.y1 - box.y0).toBe(20);
    expect(box.x1 - box.x0).toBeLessThanOrEqual(3);
  });

  it('anti-aliases when shrinking: a one-pixel line becomes grey, not lost or full white', () => {
    // 200 px tall box -> 20 px: a 1 px wide vertical line covers 1/10 of each output pixel.
    const pixels = toMnistPixels(canvas(280, 280, [[40, 40, 200, 1], [40, 40, 1, 200]]));
    const max = Math.max(...pixels);
    expect(max).toBeGreaterThan(0);
    expect(pixels.some((v) => v > 0.05 && v < 0.5)).toBe(true);
  });
});

describe('describeTabular', () => {
  it('reads features with units and an example row from the spec', () => {
    const described = describeTabular({
      preprocessing: {
        features: [
          { name: 'T', unit: '°C', description: 'temperature', mean: 18.3 },
          { name: 'RH', unit: '%' },
        ],
        example: { features: { T: 13.6, RH: 48.9 } },
      },
      target: { name: 'CO(GT)', unit: 'mg/m³' },
    });
    expect(described.features).toEqual([
      { name: 'T', unit: '°C', description: 'temperature', min: undefined, max: undefined, typical: 18.3 },
      { name: 'RH', unit: '%', description: undefined, min: undefined, max: undefined, typical: undefined },
    ]);
    expect(described.example).toEqual({ T: 13.6, RH: 48.9 });
    expect(described.target).toBe('CO(GT)');
    expect(described.unit).toBe('mg/m³');
  });

  it('has no features rather than inventing them when the spec lists none', () => {
    expect(describeTabular({ name: 'air-quality' }).features).toEqual([]);
  });
});

describe('number formats', () => {
  it('never rounds a probability to certainty it does not have', () => {
    expect(probability(0.99996)).toBe('> 99.9%');
    expect(probability(0.00004)).toBe('< 0.1%');
    expect(probability(1)).toBe('100.0%');
    expect(probability(0)).toBe('0.0%');
    expect(probability(0.8123)).toBe('81.2%');
  });

  it('rounds chart maxima up to 1, 2, 2.5 or 5 times a power of ten', () => {
    expect(niceCeiling(0.37)).toBe(0.5);
    expect(niceCeiling(7)).toBe(10);
    expect(niceCeiling(180)).toBe(200);
    expect(niceCeiling(2.1)).toBe(2.5);
    expect(niceCeiling(0)).toBe(1);
  });
});

describe('the playground source', () => {
  // Vite strips types without checking them, so this is where a type error in ui/ is caught.
  it('type-checks with its own tsconfig (DOM, strict, noUncheckedIndexedAccess)', async () => {
    const tsc = path.join(REPO_ROOT, 'node_modules', '.bin', 'tsc');
    const result = await promisify(execFile)(tsc, ['-p', path.join(REPO_ROOT, 'ui', 'tsconfig.json')], { cwd: REPO_ROOT }).then(
      () => ({ code: 0, output: '' }),
      (error: { code?: number; stdout?: string }) => ({ code: error.code ?? 1, output: error.stdout ?? '' }),
    );
    expect(result.output).toBe('');
    expect(result.code).toBe(0);
  });
});
