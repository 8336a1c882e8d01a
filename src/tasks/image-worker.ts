/**
 * The image decoding thread (src/tasks/image-decoder.ts starts it): PNG bytes in, the model's
 * pixels out, with the same code the server thread used to run (image-preprocessing.ts), so
 * answers do not change, only where the ~ms per image are spent.
 */
import { parentPort } from 'node:worker_threads';
import { VigilError } from '../errors.js';
import { pngToPixels, type FitOptions, type ImageLimits } from './image-preprocessing.js';

export interface DecodeRequest {
  id: number;
  png: Uint8Array;
  field: string;
  options: FitOptions;
  limits: ImageLimits;
}

export type DecodeResult =
  | { id: number; pixels: Float32Array }
  /** A VigilError's status/code/message (a bad PNG is the caller's fault), or an unexpected failure. */
  | { id: number; error: { status?: number; code?: string; message: string } };

parentPort?.on('message', (request: DecodeRequest) => {
  try {
    const bytes = Buffer.from(request.png.buffer, request.png.byteOffset, request.png.byteLength);
    const pixels = pngToPixels(bytes, request.field, request.options, request.limits);
    parentPort!.postMessage({ id: request.id, pixels } satisfies DecodeResult, [pixels.buffer as ArrayBuffer]);
  } catch (error) {
    const known = error instanceof VigilError ? { status: error.status, code: error.code } : {};
    parentPort!.postMessage({ id: request.id, error: { ...known, message: (error as Error).message } } satisfies DecodeResult);
  }
});
