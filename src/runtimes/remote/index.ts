/**
 * The `remote` runtime: models served by an HTTP API (Hugging Face Inference Providers or any
 * OpenAI-compatible server) behind timeouts, retries, a circuit breaker and a concurrency cap.
 * It knows nothing about Vigil's HTTP layer.
 *
 * The HTTP calls use undici directly rather than @huggingface/inference's InferenceClient: the
 * resilience here needs every attempt in hand (its own abort signal and idle timeout, the raw
 * status and Retry-After, the first streamed token), and InferenceClient retries 503s on its
 * own, which would hide them from the breaker and the metrics. The wire formats are the ones
 * InferenceClient speaks (chat completions on the HF router, hf-inference text classification).
 */
import type { ModelSpec } from '../../models/spec.js';
import type { Logger } from '../../observability/logger.js';
import type { Registry } from 'prom-client';
import { UpstreamGuard } from './guard.js';
import { RemoteMetrics } from './remote-metrics.js';
import { resolveRemoteSettings, type ResolvedRemoteSettings } from './settings.js';
import { resolveCredentials, scrubSecret, type Credentials } from './token.js';

export { ChatCompletionsClient, type ChatMessage, type Completion, type Usage } from './chat-completions.js';
export { TextClassificationClient, type LabelScore } from './text-classification-client.js';
export { HF_CHAT_BASE_URL, HF_CLASSIFICATION_BASE_URL } from './settings.js';
export { RemoteMetrics } from './remote-metrics.js';

/** What a task needs to talk to one remote model. */
export interface RemoteConnection {
  settings: ResolvedRemoteSettings;
  credentials: Credentials;
  guard: UpstreamGuard;
  metrics: RemoteMetrics;
}

export interface ConnectOptions {
  /** The server's metrics registry; a private one when absent (runtimes tested alone). */
  registry?: Registry;
  logger?: Logger;
  env?: NodeJS.ProcessEnv;
}

/**
 * Resolves settings and credentials for a remote spec and builds its guard. Throws
 * NotConfigured (503 not_configured) when the token is missing or its file is unsafe.
 */
export async function connectRemote(spec: ModelSpec, defaultBaseUrl: string, options: ConnectOptions = {}): Promise<RemoteConnection> {
  if (!spec.remote) throw new Error(`model "${spec.name}": runtime "remote" needs a "remote" section`);
  const settings = resolveRemoteSettings(spec.remote, defaultBaseUrl);
  const credentials = resolveCredentials(spec.name, spec.remote, options.env);
  const registry = options.registry ?? new (await import('prom-client')).Registry();
  const metrics = RemoteMetrics.for(registry);
  const guard = new UpstreamGuard(spec.name, settings, metrics, {
    logger: options.logger,
    scrub: (text) => scrubSecret(text, credentials),
  });
  return { settings, credentials, guard, metrics };
}
