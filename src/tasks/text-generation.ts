import { InvalidInput } from '../errors.js';
import type { ModelSpec } from '../models/spec.js';
import { ChatCompletionsClient, connectRemote, HF_CHAT_BASE_URL, type ChatMessage, type Completion } from '../runtimes/remote/index.js';
import type { ParsedRequest, Pipeline, Prediction, RunOptions, StreamRunOptions, TaskDefinition } from './types.js';

/** What a caller may ask a text-generation model: how they feel, and optionally what a local sentiment model made of it. */
export interface GenerationInput {
  prompt: string;
  sentiment?: { label: string; score: number };
}

/** Long enough for a paragraph about one's day; short enough that nobody pastes a book at our quota. */
export const MAX_PROMPT_CHARS = 4000;
const MAX_LABEL_CHARS = 64;

const DEFAULT_SYSTEM_PROMPT = 'You are a helpful assistant. Answer briefly.';

function fail(message: string): never {
  throw new InvalidInput(message);
}

/** `{"prompt": "...", "sentiment"?: {"label", "score"}, "stream"?: boolean}` */
export function parseGenerationRequest(body: unknown): ParsedRequest<GenerationInput> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    fail('the body must be a JSON object with "prompt" (a string), optionally "sentiment" ({"label", "score"}) and "stream" (a boolean)');
  }
  const record = body as Record<string, unknown>;
  if (!('prompt' in record)) fail(`missing field "prompt"${'text' in record ? ' (this model takes "prompt", not "text")' : ''}`);
  const { prompt, sentiment, stream } = record;
  if (typeof prompt !== 'string') fail(`"prompt" must be a string, got ${prompt === null ? 'null' : typeof prompt}`);
  if (prompt.trim() === '') fail('"prompt" must not be empty');
  if (prompt.length > MAX_PROMPT_CHARS) fail(`"prompt" has ${prompt.length} characters; at most ${MAX_PROMPT_CHARS} are allowed`);
  if (stream !== undefined && typeof stream !== 'boolean') fail(`"stream" must be true or false, got ${JSON.stringify(stream)}`);
  const input: GenerationInput = { prompt };
  if (sentiment !== undefined && sentiment !== null) {
    if (typeof sentiment !== 'object' || Array.isArray(sentiment)) fail('"sentiment" must be an object {"label": string, "score": number}');
    const { label, score } = sentiment as Record<string, unknown>;
    if (typeof label !== 'string' || label.trim() === '') fail('"sentiment.label" must be a non-empty string');
    if (label.length > MAX_LABEL_CHARS) fail(`"sentiment.label" must be at most ${MAX_LABEL_CHARS} characters`);
    if (typeof score !== 'number' || !Number.isFinite(score) || score < 0 || score > 1) fail('"sentiment.score" must be a number between 0 and 1');
    input.sentiment = { label, score };
  }
  return { inputs: [input], batch: false };
}

/** The chat messages for one input: the spec's system prompt, then the user's words with the sentiment as context. */
export function buildMessages(systemPrompt: string, input: GenerationInput): ChatMessage[] {
  const context = input.sentiment
    ? `\n\n(A sentiment model read this as ${input.sentiment.label}, confidence ${input.sentiment.score.toFixed(2)}.)`
    : '';
  return [
    { role: 'system', content: systemPrompt },
    { role: 'user', content: `${input.prompt}${context}` },
  ];
}

/** Reasoning models may still open with a (possibly empty) <think> block; the caller wants the answer only. */
export function cleanGeneratedText(text: string): string {
  return text.replace(/^\s*<think>[\s\S]*?<\/think>/, '').trim();
}

class GenerationPipeline implements Pipeline<GenerationInput, ChatMessage[], Completion> {
  readonly warmUp = false;

  constructor(
    private readonly systemPrompt: string,
    private readonly client: ChatCompletionsClient,
  ) {}

  encode(input: GenerationInput): ChatMessage[] {
    return buildMessages(this.systemPrompt, input);
  }

  run(messages: ChatMessage[], options: RunOptions): Promise<Completion> {
    return this.client.complete(messages, { signal: options.signal });
  }

  stream(messages: ChatMessage[], options: StreamRunOptions): Promise<Completion> {
    return this.client.stream(messages, { signal: options.signal, onToken: options.onToken });
  }

  runBatch(batch: ChatMessage[][]): Promise<Completion[]> {
    return Promise.all(batch.map((messages) => this.client.complete(messages)));
  }

  decode(completion: Completion): Prediction {
    return { text: cleanGeneratedText(completion.text), ...(completion.usage ? { usage: completion.usage } : {}) };
  }

  /** One real upstream call for one token: proves the token, the route and the model, and costs nothing. */
  async probe(): Promise<Prediction> {
    const completion = await this.client.complete(this.encode(this.sampleInput()), { maxTokens: 1 });
    return this.decode(completion);
  }

  sampleInput(): GenerationInput {
    return { prompt: 'I feel fine today.' };
  }

  signature() {
    return {
      inputs: [{ name: 'prompt', datatype: 'BYTES' as const, shape: [1] }],
      outputs: [{ name: 'text', datatype: 'BYTES' as const, shape: [1] }],
    };
  }

  async release(): Promise<void> {
    // Nothing held: connections belong to undici's pool.
  }
}

export const textGeneration: TaskDefinition<GenerationInput> = {
  name: 'text-generation',
  streams: true,
  parseRequest: parseGenerationRequest,
  async load(spec: ModelSpec, options) {
    if (spec.runtime !== 'remote') {
      throw new Error(`model "${spec.name}": text-generation is served through the remote runtime only; set "runtime": "remote" and a "remote" section`);
    }
    const remote = await connectRemote(spec, HF_CHAT_BASE_URL, { registry: options.metrics?.registry, logger: options.logger });
    const client = new ChatCompletionsClient(spec.name, remote.settings, remote.credentials, remote.guard, remote.metrics);
    return new GenerationPipeline(remote.settings.systemPrompt ?? DEFAULT_SYSTEM_PROMPT, client);
  },
};
