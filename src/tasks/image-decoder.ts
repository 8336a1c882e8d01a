import { Worker } from 'node:worker_threads';
import { VigilError } from '../errors.js';
import { checkPngSize, type FitOptions, type ImageLimits } from './image-preprocessing.js';
import type { DecodeRequest, DecodeResult } from './image-worker.js';
import { workerFile } from '../worker-file.js';

/**
 * PNG decoding and resizing off the server thread. Decoding a 2048x2048 PNG took ~250 ms of
 * the event loop, during which no other request was read; here the server thread only checks
 * the PNG's header against the limits (a few bytes) and hands the bytes to one worker thread
 * shared by every image model of the process, started on first use and unref'd so it never
 * keeps the process alive. sharp (libvips on libuv's pool) was the other candidate; it would
 * change the pixels (its resampling is not the area average the models were checked with).
 */

class ImageDecoder {
  private worker: Worker | undefined;
  private nextId = 0;
  private readonly pending = new Map<number, { resolve(pixels: Float32Array): void; reject(error: Error): void }>();

  decode(png: Uint8Array, field: string, options: FitOptions, limits: ImageLimits): Promise<Float32Array> {
    // Refused on this thread, before any work: the limits need only the header.
    checkPngSize(png, field, limits);
    const worker = this.started();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      if (this.pending.size === 1) worker.ref();
      worker.postMessage({ id, png, field, options, limits } satisfies DecodeRequest);
    });
  }

  private started(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(workerFile(import.meta.url, 'tasks/image-worker.js', 'image worker'));
    worker.unref();
    worker.on('message', (result: DecodeResult) => {
      const waiting = this.pending.get(result.id);
      if (!waiting) return;
      this.pending.delete(result.id);
      if (this.pending.size === 0) worker.unref();
      if ('pixels' in result) waiting.resolve(result.pixels);
      else if (result.error.status !== undefined) waiting.reject(new VigilError(result.error.status, result.error.code ?? 'invalid_input', result.error.message));
      else waiting.reject(new Error(result.error.message));
    });
    const failAll = (error: Error) => {
      for (const waiting of this.pending.values()) waiting.reject(error);
      this.pending.clear();
      this.worker = undefined; // the next image starts a fresh one
    };
    worker.on('error', (error) => failAll(new Error(`the image worker failed: ${error.message}`)));
    worker.on('exit', (code) => failAll(new Error(`the image worker exited (code ${code})`)));
    this.worker = worker;
    return worker;
  }
}

/** One per process: image decoding is bursty and cheap enough that one thread serves every model. */
export const imageDecoder = new ImageDecoder();
