import type { StandingRefusal } from '../../errors.js';
import type { UpstreamGuard } from './guard.js';
import type { ResolvedRemoteSettings } from './settings.js';
import type { Credentials } from './token.js';
import { MalformedResponse, postJson } from './upstream-http.js';

/** One label and its probability, as the upstream returns it. */
export interface LabelScore {
  label: string;
  score: number;
}

const isLabelScore = (value: unknown): value is LabelScore =>
  typeof value === 'object' &&
  value !== null &&
  typeof (value as LabelScore).label === 'string' &&
  typeof (value as LabelScore).score === 'number';

/**
 * HF text-classification answers `[[{label, score}, ...]]` for one input (the outer list is
 * the batch); older deployments answer the inner list alone. Both are accepted.
 */
export function parseClassification(body: unknown): LabelScore[] {
  const list = Array.isArray(body) && Array.isArray(body[0]) ? body[0] : body;
  if (!Array.isArray(list) || list.length === 0 || !list.every(isLabelScore)) {
    throw new MalformedResponse('the upstream answer is not a list of {label, score}');
  }
  return [...list].sort((a, b) => b.score - a.score);
}

/**
 * A client for Hugging Face text classification: `POST {baseUrl}/{model}` with
 * `{"inputs": "..."}`, where baseUrl defaults to https://router.huggingface.co/hf-inference/models.
 */
export class TextClassificationClient {
  constructor(
    private readonly settings: ResolvedRemoteSettings,
    private readonly credentials: Credentials,
    private readonly guard: UpstreamGuard,
  ) {}

  /** The answer a call would get now without reaching the upstream (UpstreamGuard.standingRefusal). */
  standingRefusal(): StandingRefusal | undefined {
    return this.guard.standingRefusal();
  }

  async classify(text: string, options: { signal?: AbortSignal } = {}): Promise<LabelScore[]> {
    const headers: Record<string, string> = {};
    if (this.credentials.kind === 'bearer') headers.authorization = `Bearer ${this.credentials.token}`;
    // Model ids hold a slash (owner/name) that belongs in the path; encode each part alone.
    const url = `${this.settings.baseUrl}/${this.settings.model.split('/').map(encodeURIComponent).join('/')}`;
    return this.guard.call(async (ctx) => parseClassification(await postJson({ url, headers, body: { inputs: text } }, ctx)), options);
  }
}
