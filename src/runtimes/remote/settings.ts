import type { Static } from 'typebox';
import type { RemoteSettings } from '../../models/spec.js';

export type RemoteSpec = Static<typeof RemoteSettings>;

/** A model spec's `remote` section with every default filled in. */
export interface ResolvedRemoteSettings {
  baseUrl: string;
  model: string;
  systemPrompt?: string;
  maxTokens: number;
  temperature?: number;
  /** Per upstream attempt; for streams, the longest silence between two chunks. */
  timeoutMs: number;
  retry: { maxRetries: number; baseDelayMs: number; maxDelayMs: number; maxRetryAfterMs: number };
  circuitBreaker: { failureThreshold: number; cooldownMs: number };
  concurrency: { maxInFlight: number; maxQueue: number };
}

export const HF_CHAT_BASE_URL = 'https://router.huggingface.co/v1';
export const HF_CLASSIFICATION_BASE_URL = 'https://router.huggingface.co/hf-inference/models';

export function resolveRemoteSettings(remote: RemoteSpec, defaultBaseUrl: string): ResolvedRemoteSettings {
  return {
    baseUrl: (remote.baseUrl ?? defaultBaseUrl).replace(/\/+$/, ''),
    model: remote.model,
    systemPrompt: remote.systemPrompt,
    maxTokens: remote.maxTokens ?? 128,
    temperature: remote.temperature,
    timeoutMs: remote.timeoutMs ?? 30_000,
    retry: {
      maxRetries: remote.retry?.maxRetries ?? 2,
      baseDelayMs: remote.retry?.baseDelayMs ?? 250,
      maxDelayMs: remote.retry?.maxDelayMs ?? 4_000,
      maxRetryAfterMs: remote.retry?.maxRetryAfterMs ?? 10_000,
    },
    circuitBreaker: {
      failureThreshold: remote.circuitBreaker?.failureThreshold ?? 5,
      cooldownMs: remote.circuitBreaker?.cooldownMs ?? 30_000,
    },
    concurrency: {
      maxInFlight: remote.concurrency?.maxInFlight ?? 8,
      maxQueue: remote.concurrency?.maxQueue ?? 32,
    },
  };
}
