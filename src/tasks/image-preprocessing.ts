import { PNG } from 'pngjs';
import { InvalidInput, PayloadTooLarge } from '../errors.js';

/**
 * PNG bytes -> the grey "ink" image a digit classifier was trained on (MNIST convention: light
 * strokes, value 1, on a dark background, value 0). Pure functions over Float32Arrays, so the
 * steps can be tested one by one.
 */

export interface GreyImage {
  width: number;
  height: number;
  /** Row-major, one value in [0,1] per pixel. */
  data: Float32Array;
}

export interface FitOptions {
  width: number;
  height: number;
  /**
   * 'mnist': crop to the ink, scale its longer side to `box` pixels, centre it by mass in the
   * width x height canvas (how MNIST itself was made). 'stretch': resize the whole image.
   */
  fit: 'mnist' | 'stretch';
  box: number;
  /** 'auto' inverts dark-on-light images, decided by the mean of the border pixels. */
  invert: 'auto' | boolean;
}

/**
 * Refuse images whose pixel buffer would be large before decoding them: a PNG of a few
 * kilobytes (well under the body limit) can claim 60000x60000 pixels, and decoding a
 * 2048x2048 one took ~250 ms of CPU. A digit needs 28x28; a drawing or a phone crop fits in
 * 1024x1024. Both bounds are settings (--max-image-pixels, --max-image-bytes).
 */
export interface ImageLimits {
  /** Most pixels (width x height) a PNG may declare. */
  maxPixels: number;
  /** Most bytes of one PNG (after base64 decoding). */
  maxBytes: number;
}

export const DEFAULT_IMAGE_LIMITS: ImageLimits = { maxPixels: 1024 * 1024, maxBytes: 512 * 1024 };

/** Throws 413 naming the limit when a PNG is larger than the limits allow; reads only its header. */
export function checkPngSize(bytes: Uint8Array, field: string, limits: ImageLimits): void {
  if (bytes.length > limits.maxBytes) {
    throw new PayloadTooLarge(`"${field}" is a PNG of ${bytes.length} bytes; at most ${limits.maxBytes} bytes are accepted (--max-image-bytes)`);
  }
  // IHDR is always first: width and height are the big-endian words at bytes 16 and 20.
  if (bytes.length >= 24) {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const width = view.getUint32(16);
    const height = view.getUint32(20);
    if (width * height > limits.maxPixels) {
      throw new PayloadTooLarge(`"${field}" is ${width}x${height} pixels; at most ${limits.maxPixels} pixels are accepted (--max-image-pixels)`);
    }
  }
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Base64 (standard or URL-safe) or a `data:image/png;base64,` URL, to bytes. */
export function decodeBase64Image(value: string, field: string): Buffer {
  const comma = value.startsWith('data:') ? value.indexOf(',') : -1;
  if (value.startsWith('data:') && (comma < 0 || !value.slice(0, comma).includes(';base64'))) {
    throw new InvalidInput(`"${field}" is a data: URL but not a base64 one (expected data:image/png;base64,...)`);
  }
  const payload = (comma >= 0 ? value.slice(comma + 1) : value).replace(/\s+/g, '');
  if (payload === '' || !/^[A-Za-z0-9+/_-]+={0,2}$/.test(payload)) throw new InvalidInput(`"${field}" is not base64-encoded data`);
  const bytes = Buffer.from(payload, 'base64');
  if (bytes.length < PNG_SIGNATURE.length || !bytes.subarray(0, 8).equals(PNG_SIGNATURE)) {
    throw new InvalidInput(`"${field}" is not a PNG image (no PNG signature); only PNG is supported`);
  }
  return bytes;
}

/** Decodes a PNG into straight RGBA8 (pngjs rescales 16-bit and expands palettes). */
export function decodePng(bytes: Buffer, field: string, limits: ImageLimits = DEFAULT_IMAGE_LIMITS): PNG {
  checkPngSize(bytes, field, limits);
  try {
    return PNG.sync.read(bytes);
  } catch (error) {
    throw new InvalidInput(`"${field}" could not be decoded as PNG: ${(error as Error).message}`);
  }
}

function borderMean(values: Float32Array, width: number, height: number): number {
  let sum = 0;
  let count = 0;
  for (let x = 0; x < width; x++) {
    sum += values[x]! + values[(height - 1) * width + x]!;
    count += 2;
  }
  for (let y = 1; y < height - 1; y++) {
    sum += values[y * width]! + values[y * width + width - 1]!;
    count += 2;
  }
  return count === 0 ? 0 : sum / count;
}

/**
 * RGBA -> ink in [0,1]. Two cases:
 * - transparent background (border mostly transparent): the strokes are whatever is opaque, so
 *   ink = alpha (a canvas drawing exported as PNG looks like this, whatever its stroke colour);
 * - otherwise luminance composited over white; then, with `invert: 'auto'`, a light border
 *   (mean > 0.5) means dark ink on light paper (a scan, a photo) and the image is inverted so the
 *   ink is bright, as in MNIST; a dark border means it already is. stretchContrast then maps the
 *   paper to 0 and the strongest ink to 1.
 */
export function inkFromRgba(rgba: Uint8Array, width: number, height: number, invert: 'auto' | boolean): GreyImage {
  const n = width * height;
  const alpha = new Float32Array(n);
  const grey = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const a = rgba[i * 4 + 3]! / 255;
    const luminance = (0.299 * rgba[i * 4]! + 0.587 * rgba[i * 4 + 1]! + 0.114 * rgba[i * 4 + 2]!) / 255;
    alpha[i] = a;
    grey[i] = a * luminance + (1 - a); // over white paper
  }
  if (invert === 'auto' && borderMean(alpha, width, height) < 0.5) return { width, height, data: alpha };
  const flip = invert === 'auto' ? borderMean(grey, width, height) > 0.5 : invert;
  if (flip) for (let i = 0; i < n; i++) grey[i] = 1 - grey[i]!;
  return { width, height, data: grey };
}

/**
 * Area-average resize: every output pixel is the mean of the source area it covers (with
 * fractional edges), so thin strokes survive downscaling instead of vanishing between samples.
 * Upscaling degrades gracefully to nearest-with-blending.
 */
export function resizeArea(image: GreyImage, width: number, height: number): GreyImage {
  const { width: sw, height: sh, data } = image;
  const out = new Float32Array(width * height);
  const sx = sw / width;
  const sy = sh / height;
  for (let dy = 0; dy < height; dy++) {
    const y0 = dy * sy;
    const y1 = y0 + sy;
    for (let dx = 0; dx < width; dx++) {
      const x0 = dx * sx;
      const x1 = x0 + sx;
      let sum = 0;
      for (let y = Math.floor(y0); y < Math.min(Math.ceil(y1), sh); y++) {
        const wy = Math.min(y + 1, y1) - Math.max(y, y0);
        if (wy <= 0) continue;
        for (let x = Math.floor(x0); x < Math.min(Math.ceil(x1), sw); x++) {
          const wx = Math.min(x + 1, x1) - Math.max(x, x0);
          if (wx > 0) sum += data[y * sw + x]! * wx * wy;
        }
      }
      out[dy * width + dx] = sum / (sx * sy);
    }
  }
  return { width, height, data: out };
}

/** Smallest box holding every pixel brighter than `threshold`, or undefined for a blank image. */
export function inkBounds(image: GreyImage, threshold = 0.1): { x: number; y: number; width: number; height: number } | undefined {
  let minX = Infinity;
  let minY = Infinity;
  let maxX = -1;
  let maxY = -1;
  for (let y = 0; y < image.height; y++) {
    for (let x = 0; x < image.width; x++) {
      if (image.data[y * image.width + x]! > threshold) {
        minX = Math.min(minX, x);
        maxX = Math.max(maxX, x);
        minY = Math.min(minY, y);
        maxY = Math.max(maxY, y);
      }
    }
  }
  return maxX < 0 ? undefined : { x: minX, y: minY, width: maxX - minX + 1, height: maxY - minY + 1 };
}

function crop(image: GreyImage, box: { x: number; y: number; width: number; height: number }): GreyImage {
  const data = new Float32Array(box.width * box.height);
  for (let y = 0; y < box.height; y++) {
    data.set(image.data.subarray((box.y + y) * image.width + box.x, (box.y + y) * image.width + box.x + box.width), y * box.width);
  }
  return { width: box.width, height: box.height, data };
}

/** Centre of mass (x, y) of the ink, in pixels; the image centre when blank. */
export function centreOfMass(image: GreyImage): { x: number; y: number } {
  let mass = 0;
  let mx = 0;
  let my = 0;
  for (let y = 0; y < image.height; y++) {
    for (let x = 0; x < image.width; x++) {
      const v = image.data[y * image.width + x]!;
      mass += v;
      mx += v * (x + 0.5);
      my += v * (y + 0.5);
    }
  }
  return mass === 0 ? { x: image.width / 2, y: image.height / 2 } : { x: mx / mass, y: my / mass };
}

/** MNIST's recipe: ink cropped, longer side scaled to `box`, pasted so its centre of mass is the canvas centre. */
export function fitLikeMnist(image: GreyImage, width: number, height: number, box: number): GreyImage {
  const canvas = new Float32Array(width * height);
  const bounds = inkBounds(image);
  if (!bounds) return { width, height, data: canvas };
  const scale = box / Math.max(bounds.width, bounds.height);
  const digit = resizeArea(
    crop(image, bounds),
    Math.max(1, Math.min(width, Math.round(bounds.width * scale))),
    Math.max(1, Math.min(height, Math.round(bounds.height * scale))),
  );
  const mass = centreOfMass(digit);
  const clamp = (v: number, max: number) => Math.min(Math.max(v, 0), max);
  const ox = clamp(Math.round(width / 2 - mass.x), width - digit.width);
  const oy = clamp(Math.round(height / 2 - mass.y), height - digit.height);
  for (let y = 0; y < digit.height; y++) {
    canvas.set(digit.data.subarray(y * digit.width, (y + 1) * digit.width), (oy + y) * width + ox);
  }
  return { width, height, data: canvas };
}

/**
 * Maps the background (the border's mean) to 0 and the strongest ink to 1. A photo or a scan has
 * grey paper and greyish ink; without this, inverted grey paper would count as ink everywhere
 * and the MNIST crop would keep the whole picture. An image without contrast becomes blank.
 */
export function stretchContrast(image: GreyImage): GreyImage {
  const background = borderMean(image.data, image.width, image.height);
  let strongest = 0;
  for (const v of image.data) strongest = Math.max(strongest, v);
  const range = strongest - background;
  const data = new Float32Array(image.data.length);
  if (range > 0.05) for (let i = 0; i < data.length; i++) data[i] = Math.min(1, Math.max(0, (image.data[i]! - background) / range));
  return { width: image.width, height: image.height, data };
}

/** PNG bytes -> width*height values in [0,1], bright ink on black, ready for the model. */
export function pngToPixels(bytes: Buffer, field: string, options: FitOptions, limits: ImageLimits = DEFAULT_IMAGE_LIMITS): Float32Array {
  const png = decodePng(bytes, field, limits);
  const ink = stretchContrast(inkFromRgba(png.data, png.width, png.height, options.invert));
  const fitted = options.fit === 'mnist' ? fitLikeMnist(ink, options.width, options.height, options.box) : resizeArea(ink, options.width, options.height);
  // Area averaging can overshoot 1 by a rounding error; the model was trained on [0,1].
  for (let i = 0; i < fitted.data.length; i++) fitted.data[i] = Math.min(1, Math.max(0, fitted.data[i]!));
  return fitted.data;
}
