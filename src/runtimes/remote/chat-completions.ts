import type { UpstreamGuard } from './guard.js';
import type { RemoteMetrics } from './remote-metrics.js';
import type { ResolvedRemoteSettings } from './settings.js';
import type { Credentials } from './token.js';
import { MalformedResponse, postForEvents, postJson, StreamedError, type AttemptContext } from './upstream-http.js';

/**
 * A client for OpenAI-compatible `POST {baseUrl}/chat/completions`: the Hugging Face router
 * (https://router.huggingface.co/v1), TGI, vLLM, llama.cpp server and Ollama (/v1) all speak
 * it. JSON answers and server-sent-event streams (`data: {chunk}` ... `data: [DONE]`).
 */

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

/** Token counts as the upstream reports them (OpenAI `usage`). */
export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

export interface Completion {
  text: string;
  usage?: Usage;
  finishReason?: string;
}

export interface CompletionOptions {
  signal?: AbortSignal;
  /** Overrides the spec's maxTokens (the deep health probe asks for 1). */
  maxTokens?: number;
}

export interface StreamOptions extends CompletionOptions {
  /** Called with each piece of generated text, in order. */
  onToken(delta: string): void;
}

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

function readUsage(value: unknown): Usage | undefined {
  if (!isObject(value)) return undefined;
  const prompt = value.prompt_tokens;
  const completion = value.completion_tokens;
  if (typeof prompt !== 'number' || typeof completion !== 'number') return undefined;
  const total = typeof value.total_tokens === 'number' ? value.total_tokens : prompt + completion;
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: total };
}

/** `{"choices":[{"message":{"content":"..."}}], "usage": {...}}` */
export function parseCompletion(body: unknown): Completion {
  const choice = isObject(body) && Array.isArray(body.choices) ? body.choices[0] : undefined;
  const message = isObject(choice) ? choice.message : undefined;
  const content = isObject(message) ? message.content : undefined;
  if (typeof content !== 'string') throw new MalformedResponse('the upstream answer has no choices[0].message.content');
  const finish = isObject(choice) && typeof choice.finish_reason === 'string' ? choice.finish_reason : undefined;
  return { text: content, usage: readUsage(isObject(body) ? body.usage : undefined), finishReason: finish };
}

/** The message of an error object sent inside a stream (`{"error": "..."}` or `{"error": {"message": ...}}`). */
function streamedErrorMessage(error: unknown): string {
  if (typeof error === 'string') return error;
  if (isObject(error) && typeof error.message === 'string') return error.message;
  return 'the upstream reported an error mid-stream';
}

export class ChatCompletionsClient {
  constructor(
    private readonly modelName: string,
    private readonly settings: ResolvedRemoteSettings,
    private readonly credentials: Credentials,
    private readonly guard: UpstreamGuard,
    private readonly metrics: RemoteMetrics,
  ) {}

  private request(messages: ChatMessage[], stream: boolean, maxTokens?: number) {
    const headers: Record<string, string> = {};
    if (this.credentials.kind === 'bearer') headers.authorization = `Bearer ${this.credentials.token}`;
    return {
      url: `${this.settings.baseUrl}/chat/completions`,
      headers,
      body: {
        model: this.settings.model,
        messages,
        max_tokens: maxTokens ?? this.settings.maxTokens,
        ...(this.settings.temperature === undefined ? {} : { temperature: this.settings.temperature }),
        stream,
        // Ask for usage in the last chunk, as OpenAI-compatible servers (TGI, vLLM, HF router) support.
        ...(stream ? { stream_options: { include_usage: true } } : {}),
      },
    };
  }

  async complete(messages: ChatMessage[], options: CompletionOptions = {}): Promise<Completion> {
    const request = this.request(messages, false, options.maxTokens);
    const completion = await this.guard.call(async (ctx) => parseCompletion(await postJson(request, ctx)), { signal: options.signal });
    this.countTokens(completion.usage);
    return completion;
  }

  async stream(messages: ChatMessage[], options: StreamOptions): Promise<Completion> {
    const request = this.request(messages, true, options.maxTokens);
    const completion = await this.guard.call((ctx) => this.streamAttempt(request, ctx, options.onToken), { signal: options.signal, streaming: true });
    this.countTokens(completion.usage);
    return completion;
  }

  private async streamAttempt(request: ReturnType<ChatCompletionsClient['request']>, ctx: AttemptContext, onToken: (delta: string) => void): Promise<Completion> {
    const response = await postForEvents(request, ctx);
    if (response.kind === 'json') {
      // A server that ignored `stream: true`: one token with the whole answer.
      const completion = parseCompletion(response.value);
      if (completion.text) {
        ctx.firstToken();
        onToken(completion.text);
      }
      return completion;
    }
    let text = '';
    let usage: Usage | undefined;
    let finishReason: string | undefined;
    let done = false;
    for await (const data of response.events) {
      if (data.trim() === '[DONE]') {
        done = true;
        break;
      }
      let chunk: unknown;
      try {
        chunk = JSON.parse(data);
      } catch {
        throw new MalformedResponse('the upstream sent a stream event that is not JSON');
      }
      if (!isObject(chunk)) throw new MalformedResponse('the upstream sent a stream event that is not a JSON object');
      if (chunk.error !== undefined && chunk.error !== null) throw new StreamedError(streamedErrorMessage(chunk.error));
      usage = readUsage(chunk.usage) ?? usage;
      const choice = Array.isArray(chunk.choices) ? chunk.choices[0] : undefined;
      if (!isObject(choice)) continue; // the usage-only chunk has no choices
      if (typeof choice.finish_reason === 'string') finishReason = choice.finish_reason;
      const delta = isObject(choice.delta) ? choice.delta.content : undefined;
      if (typeof delta === 'string' && delta !== '') {
        ctx.firstToken();
        text += delta;
        onToken(delta);
      }
    }
    // Without [DONE] or a finish_reason the connection ended early: the answer may be cut.
    if (!done && finishReason === undefined) throw Object.assign(new Error('the upstream stream ended before [DONE]'), { code: 'UND_ERR_SOCKET' });
    return { text, usage, finishReason };
  }

  private countTokens(usage: Usage | undefined): void {
    if (!usage) return;
    this.metrics.tokens.inc({ model: this.modelName, kind: 'prompt' }, usage.prompt_tokens);
    this.metrics.tokens.inc({ model: this.modelName, kind: 'completion' }, usage.completion_tokens);
  }
}
