/**
 * Turns a drawing into what an MNIST model expects: 28x28 intensities in 0..1, white digit on
 * black. MNIST's own recipe (LeCun et al.): fit the digit's bounding box into 20x20 keeping its
 * aspect ratio (anti-aliased), then place it in the 28x28 frame so that its centre of mass sits
 * at the centre. Without this a digit drawn small or off-centre is misread.
 */

export const MNIST_SIZE = 28;
export const MNIST_BOX = 20;

export interface Gray {
  /** Row-major intensities in 0..1 (1 = ink). */
  data: Float32Array;
  width: number;
  height: number;
}

/** Smallest rectangle holding every pixel brighter than `threshold`; undefined for a blank image. */
export function inkBounds(image: Gray, threshold = 0.05): { x0: number; y0: number; x1: number; y1: number } | undefined {
  let x0 = image.width;
  let y0 = image.height;
  let x1 = -1;
  let y1 = -1;
  for (let y = 0; y < image.height; y++) {
    for (let x = 0; x < image.width; x++) {
      if ((image.data[y * image.width + x] ?? 0) > threshold) {
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
      }
    }
  }
  return x1 < 0 ? undefined : { x0, y0, x1: x1 + 1, y1: y1 + 1 };
}

/**
 * Area-average resampling of a source rectangle into `outW` x `outH`: each output pixel is the
 * mean of the source area it covers (fractional edges weighted), which is the anti-aliasing
 * MNIST's normalisation used. Works for shrinking and enlarging alike.
 */
export function resampleArea(image: Gray, sx: number, sy: number, sw: number, sh: number, outW: number, outH: number): Float32Array {
  const out = new Float32Array(outW * outH);
  const scaleX = sw / outW;
  const scaleY = sh / outH;
  for (let oy = 0; oy < outH; oy++) {
    const top = sy + oy * scaleY;
    const bottom = top + scaleY;
    for (let ox = 0; ox < outW; ox++) {
      const left = sx + ox * scaleX;
      const right = left + scaleX;
      let sum = 0;
      let area = 0;
      for (let y = Math.floor(top); y < Math.ceil(bottom); y++) {
        const wy = Math.min(bottom, y + 1) - Math.max(top, y);
        if (wy <= 0 || y < 0 || y >= image.height) continue;
        for (let x = Math.floor(left); x < Math.ceil(right); x++) {
          const wx = Math.min(right, x + 1) - Math.max(left, x);
          if (wx <= 0 || x < 0 || x >= image.width) continue;
          sum += (image.data[y * image.width + x] ?? 0) * wx * wy;
          area += wx * wy;
        }
      }
      out[oy * outW + ox] = area > 0 ? sum / area : 0;
    }
  }
  return out;
}

/** Intensity-weighted centre (x, y) of an image, in pixel coordinates (pixel centres at +0.5). */
export function centreOfMass(data: Float32Array, width: number, height: number): { x: number; y: number } {
  let total = 0;
  let sx = 0;
  let sy = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const v = data[y * width + x] ?? 0;
      total += v;
      sx += v * (x + 0.5);
      sy += v * (y + 0.5);
    }
  }
  return total === 0 ? { x: width / 2, y: height / 2 } : { x: sx / total, y: sy / total };
}

/** The 784 model inputs for a drawing; all zeros for a blank one. */
export function toMnistPixels(image: Gray): Float32Array {
  const out = new Float32Array(MNIST_SIZE * MNIST_SIZE);
  const bounds = inkBounds(image);
  if (!bounds) return out;
  const bw = bounds.x1 - bounds.x0;
  const bh = bounds.y1 - bounds.y0;
  // The longer side becomes 20 px; the shorter keeps the aspect ratio (a "1" stays thin).
  const scale = MNIST_BOX / Math.max(bw, bh);
  const fw = Math.max(1, Math.round(bw * scale));
  const fh = Math.max(1, Math.round(bh * scale));
  const fitted = resampleArea(image, bounds.x0, bounds.y0, bw, bh, fw, fh);
  const mass = centreOfMass(fitted, fw, fh);
  const offsetX = Math.round(MNIST_SIZE / 2 - mass.x);
  const offsetY = Math.round(MNIST_SIZE / 2 - mass.y);
  for (let y = 0; y < fh; y++) {
    for (let x = 0; x < fw; x++) {
      const tx = x + offsetX;
      const ty = y + offsetY;
      if (tx < 0 || ty < 0 || tx >= MNIST_SIZE || ty >= MNIST_SIZE) continue;
      out[ty * MNIST_SIZE + tx] = Math.min(1, Math.max(0, fitted[y * fw + x] ?? 0));
    }
  }
  return out;
}

/** Canvas pixels (RGBA) to intensities: the brightness of white-on-black ink. */
export function grayFromRgba(rgba: Uint8ClampedArray, width: number, height: number): Gray {
  const data = new Float32Array(width * height);
  for (let i = 0; i < data.length; i++) {
    const r = rgba[i * 4] ?? 0;
    const g = rgba[i * 4 + 1] ?? 0;
    const b = rgba[i * 4 + 2] ?? 0;
    const a = (rgba[i * 4 + 3] ?? 255) / 255;
    data[i] = ((0.299 * r + 0.587 * g + 0.114 * b) / 255) * a;
  }
  return { data, width, height };
}
