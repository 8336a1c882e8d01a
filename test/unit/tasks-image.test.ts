import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { checkPixels, imageSettings, parseImageRequest } from '../../src/tasks/image-classification.js';
import {
  centreOfMass,
  decodeBase64Image,
  fitLikeMnist,
  inkBounds,
  inkFromRgba,
  pngToPixels,
  resizeArea,
  stretchContrast,
  type GreyImage,
} from '../../src/tasks/image-preprocessing.js';
import type { ModelSpec } from '../../src/models/spec.js';
import { rectanglePng } from '../helpers/tiny-models.js';

const limits = { maxBatchInputs: 4 };
const grey = (width: number, height: number, values: number[]): GreyImage => ({ width, height, data: Float32Array.from(values) });
const mnist = { width: 28, height: 28, fit: 'mnist' as const, box: 20, invert: 'auto' as const };

describe('resizeArea', () => {
  it('averages the area each output pixel covers', () => {
    const out = resizeArea(grey(4, 2, [1, 1, 0, 0, 1, 1, 0, 1]), 2, 1);
    expect(Array.from(out.data)).toEqual([1, 0.25]);
  });

  it('keeps the mean when downscaling by a fractional factor, so thin strokes do not vanish', () => {
    const src = grey(10, 10, Array.from({ length: 100 }, (_, i) => (i % 10 === 4 ? 1 : 0))); // a 1-pixel vertical line
    const out = resizeArea(src, 3, 3);
    const mean = (d: Float32Array) => d.reduce((a, b) => a + b, 0) / d.length;
    expect(mean(out.data)).toBeCloseTo(mean(src.data), 5);
    expect(Math.max(...out.data)).toBeGreaterThan(0);
  });

  it('upscales by repeating', () => {
    expect(Array.from(resizeArea(grey(1, 1, [0.5]), 2, 2).data)).toEqual([0.5, 0.5, 0.5, 0.5]);
  });
});

describe('inkFromRgba', () => {
  const rgba = (pixels: [number, number, number, number][]) => Uint8Array.from(pixels.flat());

  it('inverts dark ink on light paper (light border) and keeps light ink on dark', () => {
    const paper = inkFromRgba(rgba([[255, 255, 255, 255], [255, 255, 255, 255], [255, 255, 255, 255], [255, 255, 255, 255], [0, 0, 0, 255], [255, 255, 255, 255], [255, 255, 255, 255], [255, 255, 255, 255], [255, 255, 255, 255]]), 3, 3, 'auto');
    expect(paper.data[4]).toBeCloseTo(1);
    expect(paper.data[0]).toBeCloseTo(0);
    const screen = inkFromRgba(rgba([[0, 0, 0, 255], [0, 0, 0, 255], [0, 0, 0, 255], [0, 0, 0, 255], [255, 255, 255, 255], [0, 0, 0, 255], [0, 0, 0, 255], [0, 0, 0, 255], [0, 0, 0, 255]]), 3, 3, 'auto');
    expect(screen.data[4]).toBeCloseTo(1);
    expect(screen.data[0]).toBeCloseTo(0);
  });

  it('on a transparent canvas the opaque strokes are the ink, whatever their colour', () => {
    const clear: [number, number, number, number] = [0, 0, 0, 0];
    const image = inkFromRgba(rgba([clear, clear, clear, clear, [0, 0, 0, 255], clear, clear, clear, clear]), 3, 3, 'auto');
    expect(Array.from(image.data)).toEqual([0, 0, 0, 0, 1, 0, 0, 0, 0]);
  });

  it('honours a forced invert setting', () => {
    const image = inkFromRgba(rgba([[0, 0, 0, 255]]), 1, 1, true);
    expect(image.data[0]).toBeCloseTo(1);
  });
});

describe('fitLikeMnist', () => {
  it('scales the ink box so its longer side is 20 pixels and centres it by mass in 28x28', () => {
    // A 10x40 bar in a 100x100 image, off-centre.
    const data = new Array(100 * 100).fill(0);
    for (let y = 5; y < 45; y++) for (let x = 60; x < 70; x++) data[y * 100 + x] = 1;
    const fitted = fitLikeMnist(grey(100, 100, data), 28, 28, 20);
    const bounds = inkBounds(fitted)!;
    expect(bounds.height).toBe(20);
    expect(bounds.width).toBe(5);
    const mass = centreOfMass(fitted);
    expect(Math.abs(mass.x - 14)).toBeLessThanOrEqual(1);
    expect(Math.abs(mass.y - 14)).toBeLessThanOrEqual(1);
  });

  it('a blank image stays blank', () => {
    expect(Array.from(fitLikeMnist(grey(5, 5, new Array(25).fill(0)), 28, 28, 20).data).every((v) => v === 0)).toBe(true);
  });
});

describe('PNG decoding', () => {
  it('turns a dark-on-light PNG into centred bright ink in [0,1]', () => {
    const png = rectanglePng({ width: 64, height: 48, rect: { x: 4, y: 4, width: 8, height: 32 }, ink: [20, 20, 20, 255], background: [250, 250, 250, 255] });
    const pixels = pngToPixels(Buffer.from(png, 'base64'), 'image', mnist);
    expect(pixels).toHaveLength(784);
    expect(Math.min(...pixels)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...pixels)).toBeLessThanOrEqual(1);
    const image = { width: 28, height: 28, data: pixels };
    expect(inkBounds(image)!.height).toBe(20);
    expect(Math.abs(centreOfMass(image).x - 14)).toBeLessThanOrEqual(1);
    expect(pixels[0]).toBe(0); // the paper became black
  });

  it('a photo-like PNG (grey paper, greyish ink) still gives black background and full-strength ink', () => {
    const png = rectanglePng({ width: 60, height: 60, rect: { x: 25, y: 10, width: 6, height: 40 }, ink: [90, 90, 90, 255], background: [190, 190, 190, 255] });
    const pixels = pngToPixels(Buffer.from(png, 'base64'), 'image', mnist);
    expect(pixels[0]).toBe(0);
    expect(Math.max(...pixels)).toBeCloseTo(1, 5);
    expect(inkBounds({ width: 28, height: 28, data: pixels })!.height).toBe(20);
  });

  it('stretchContrast maps the border to 0 and the strongest ink to 1; a flat image becomes blank', () => {
    const out = stretchContrast(grey(3, 3, [0.2, 0.2, 0.2, 0.2, 0.6, 0.2, 0.2, 0.2, 0.2]));
    expect(out.data[4]).toBeCloseTo(1);
    expect(out.data[0]).toBe(0);
    expect(Array.from(stretchContrast(grey(2, 2, [0.5, 0.5, 0.5, 0.5])).data)).toEqual([0, 0, 0, 0]);
  });

  it('reads 16-bit greyscale PNGs too', () => {
    const png = new PNG({ width: 8, height: 8 });
    // pngjs writes 16-bit images from 16-bit samples: a white 2-pixel column on black.
    const samples = new Uint16Array(64 * 4);
    for (let i = 0; i < 64; i++) samples.set(i % 8 >= 3 && i % 8 < 5 ? [65535, 65535, 65535, 65535] : [0, 0, 0, 65535], i * 4);
    png.data = samples as unknown as Buffer;
    const bytes = PNG.sync.write(png, { colorType: 0, inputColorType: 6, bitDepth: 16 });
    expect(bytes[24]).toBe(16); // IHDR bit depth
    const pixels = pngToPixels(bytes, 'image', mnist);
    expect(inkBounds({ width: 28, height: 28, data: pixels })!.height).toBe(20);
    expect(Math.max(...pixels)).toBeCloseTo(1, 5);
  });

  it('accepts base64 and data: URLs; refuses text, other formats and broken PNGs with the field name', () => {
    const png = rectanglePng({ width: 4, height: 4, rect: { x: 1, y: 1, width: 2, height: 2 }, ink: [255, 255, 255, 255], background: [0, 0, 0, 255] });
    expect(decodeBase64Image(png, 'image').length).toBeGreaterThan(8);
    expect(decodeBase64Image(`data:image/png;base64,${png}`, 'image').equals(decodeBase64Image(png, 'image'))).toBe(true);
    expect(() => decodeBase64Image('hello world!', 'image')).toThrow(/"image" is not base64/);
    expect(() => decodeBase64Image('data:image/png,abc', 'image')).toThrow(/not a base64 one/);
    expect(() => decodeBase64Image(Buffer.from('\xff\xd8\xff\xe0 jpeg').toString('base64'), 'inputs[1]')).toThrow(/"inputs\[1\]" is not a PNG/);
    const broken = decodeBase64Image(png, 'image').subarray(0, 30);
    expect(() => pngToPixels(broken, 'image', mnist)).toThrow(/"image" could not be decoded as PNG/);
  });

  it('refuses images whose header claims too many pixels before decoding them', () => {
    const png = Buffer.from(rectanglePng({ width: 4, height: 4, rect: { x: 1, y: 1, width: 2, height: 2 }, ink: [255, 255, 255, 255], background: [0, 0, 0, 255] }), 'base64');
    png.writeUInt32BE(100_000, 16);
    png.writeUInt32BE(100_000, 20);
    expect(() => pngToPixels(png, 'image', mnist)).toThrow(/100000x100000 pixels/);
  });
});

describe('pixels and requests', () => {
  it('checkPixels takes flat or nested rows and names the bad value', () => {
    const settings = { width: 2, height: 2 };
    expect(Array.from(checkPixels([0, 0.5, 1, 0], 'pixels', settings))).toEqual([0, 0.5, 1, 0]);
    expect(Array.from(checkPixels([[0, 0.5], [1, 0]], 'pixels', settings))).toEqual([0, 0.5, 1, 0]);
    expect(() => checkPixels([[0, 0.5], [1]], 'pixels', settings)).toThrow(/"pixels\[1\]" has 1 values; each row must have 2/);
    expect(() => checkPixels([0, 0.5, 1], 'pixels', settings)).toThrow(/has 3 values; expected 4/);
    expect(() => checkPixels([0, 0.5, 1, 2], 'pixels', settings)).toThrow(/value 3 is 2; pixels must be in 0\.\.1/);
    expect(() => checkPixels([0, 0.5, 1, null], 'pixels', settings)).toThrow(/value 3 must be a number, got null/);
  });

  it('parseImageRequest: one image or a batch, with limits', () => {
    expect(parseImageRequest({ pixels: [1] }, limits)).toEqual({ inputs: [{ pixels: [1], field: 'pixels' }], batch: false });
    expect(parseImageRequest({ inputs: [[1], { pixels: [2] }] }, limits).inputs.map((i) => i.field)).toEqual(['inputs[0]', 'inputs[1].pixels']);
    expect(() => parseImageRequest({ inputs: [1, 2, 3, 4, 5] }, limits)).toThrow(/at most 4/);
    expect(() => parseImageRequest({ inputs: [7] }, limits)).toThrow(/"inputs\[0\]" must be an object/);
    expect(() => parseImageRequest('x', limits)).toThrow(/JSON object/);
  });

  it('imageSettings reads preprocessing.image with MNIST defaults', () => {
    const spec = (image?: unknown) => ({ preprocessing: image === undefined ? {} : { image } }) as unknown as ModelSpec;
    expect(imageSettings(spec())).toMatchObject({ width: 28, height: 28, box: 20, fit: 'mnist', invert: 'auto' });
    expect(imageSettings(spec({ width: 14, height: 14, fit: 'stretch', invert: false, mean: 0.1307, std: 0.3081 }))).toMatchObject({ width: 14, box: 10, fit: 'stretch', invert: false, mean: 0.1307 });
  });
});
