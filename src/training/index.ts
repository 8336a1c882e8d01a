import type { Trainer } from './types.js';

/** The embedded models Vigil trains itself, loaded lazily (each pulls in its own data loader). */
export const TRAINERS: Record<string, { description: string; load: () => Promise<Trainer> }> = {
  sentiment: { description: 'SST-2 movie-review sentiment (text-classification)', load: async () => (await import('./sentiment.js')).sentiment },
  spam: { description: 'SpamAssassin spam filter (text-classification)', load: async () => (await import('./spam.js')).spam },
  digits: { description: 'MNIST handwritten digits (image-classification)', load: async () => (await import('./digits.js')).digits },
  'air-quality': { description: 'UCI Air Quality, CO(GT) from sensors (tabular-regression)', load: async () => (await import('./air-quality.js')).airQuality },
};

export type { Trainer, TrainContext, TrainResult, EvalContext, EvalResult } from './types.js';
