import { describe, expect, it } from 'vitest';
import { errorDetail, sseData } from '../../src/runtimes/remote/upstream-http.js';
import { parseCompletion } from '../../src/runtimes/remote/chat-completions.js';
import { parseClassification } from '../../src/runtimes/remote/text-classification-client.js';

async function collect(chunks: string[]): Promise<string[]> {
  async function* body() {
    for (const c of chunks) yield new TextEncoder().encode(c);
  }
  const out: string[] = [];
  for await (const data of sseData(body())) out.push(data);
  return out;
}

describe('sseData', () => {
  it('yields each event data, skipping comments and other fields', async () => {
    expect(await collect([': keep-alive\n\n', 'event: x\ndata: {"a":1}\n\n', 'data: [DONE]\n\n'])).toEqual(['{"a":1}', '[DONE]']);
  });

  it('reassembles events split across chunks, even inside a CRLF', async () => {
    expect(await collect(['da', 'ta: {"a"', ':1}\r', '\n\r\ndata: 2\r\n', '\r\n'])).toEqual(['{"a":1}', '2']);
  });

  it('accepts "data:" without a space (TGI) and joins multi-line data', async () => {
    expect(await collect(['data:{"b":2}\n\n', 'data: one\ndata: two\n\n'])).toEqual(['{"b":2}', 'one\ntwo']);
  });

  it('flushes a last event that is missing its blank line', async () => {
    expect(await collect(['data: last'])).toEqual(['last']);
  });
});

describe('upstream bodies', () => {
  it('reads error messages in the shapes HF and OpenAI-compatible servers use', () => {
    expect(errorDetail('{"error":"Model x is currently loading","estimated_time":20.5}')).toEqual({ detail: 'Model x is currently loading', estimatedSeconds: 20.5 });
    expect(errorDetail('{"error":{"message":"Rate limit reached","type":"rate_limit_error"}}').detail).toBe('Rate limit reached');
    expect(errorDetail('{"detail":"Not Found"}').detail).toBe('Not Found');
    expect(errorDetail('<html>Bad Gateway</html>').detail).toBe('<html>Bad Gateway</html>');
  });

  it('parses chat completions and refuses answers without content', () => {
    const body = { choices: [{ index: 0, message: { role: 'assistant', content: 'Hi.' }, finish_reason: 'stop' }], usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 } };
    expect(parseCompletion(body)).toEqual({ text: 'Hi.', usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 }, finishReason: 'stop' });
    expect(() => parseCompletion({ choices: [] })).toThrow(/content/);
    expect(() => parseCompletion({ error: 'x' })).toThrow(/content/);
  });

  it('parses HF text classification, nested or flat, best label first', () => {
    const nested = [[{ label: 'NEGATIVE', score: 0.1 }, { label: 'POSITIVE', score: 0.9 }]];
    expect(parseClassification(nested)[0]).toEqual({ label: 'POSITIVE', score: 0.9 });
    expect(parseClassification([{ label: 'A', score: 1 }])).toEqual([{ label: 'A', score: 1 }]);
    expect(() => parseClassification({ error: 'loading' })).toThrow(/label, score/);
    expect(() => parseClassification([[]])).toThrow();
  });
});
