import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseSpec } from '../../src/models/spec.js';
import { resolveRemoteSettings } from '../../src/runtimes/remote/settings.js';
import { buildMessages, cleanGeneratedText, parseGenerationRequest } from '../../src/tasks/text-generation.js';
import { REPO_ROOT } from '../helpers/server.js';

const read = (relative: string) => parseSpec(JSON.parse(readFileSync(path.join(REPO_ROOT, relative), 'utf8')), relative);

describe('committed remote specs', () => {
  it('positive-thought asks SmolLM3-3B on the HF router for one short thought, without thinking', () => {
    const spec = read('models/positive-thought/1/vigil.model.json');
    expect(spec).toMatchObject({ name: 'positive-thought', task: 'text-generation', runtime: 'remote' });
    const settings = resolveRemoteSettings(spec.remote!, 'unused');
    expect(settings.baseUrl).toBe('https://router.huggingface.co/v1');
    expect(settings.model).toBe('HuggingFaceTB/SmolLM3-3B');
    expect(settings.systemPrompt).toMatch(/^\/no_think/);
    expect(settings.systemPrompt).toContain('ONE short encouraging thought');
  });

  it('the examples parse and point where their README says', () => {
    const remote = read('examples/dual-mode/sentiment-remote/vigil.model.json');
    expect(remote).toMatchObject({ task: 'text-classification', runtime: 'remote', fallback: 'sentiment', labels: ['NEGATIVE', 'POSITIVE'] });
    const local = read('examples/dual-mode/positive-thought-local/vigil.model.json');
    expect(local.remote).toMatchObject({ auth: 'none', baseUrl: 'http://127.0.0.1:11434/v1' });
  });

  it('rejects unknown auth modes and bad token variable names', () => {
    const base = { name: 'x', version: '1', task: 'text-generation', runtime: 'remote' };
    expect(() => parseSpec({ ...base, remote: { model: 'm', auth: 'basic' } }, 'spec')).toThrow(/remote\/auth/);
    expect(() => parseSpec({ ...base, remote: { model: 'm', tokenEnv: 'not a name' } }, 'spec')).toThrow(/remote\/tokenEnv/);
  });
});

describe('text-generation requests', () => {
  it('builds the system prompt and the user message with the sentiment as context', () => {
    const { inputs } = parseGenerationRequest({ prompt: 'I lost my keys.', sentiment: { label: 'NEGATIVE', score: 0.912 } });
    expect(buildMessages('SYS', inputs[0]!)).toEqual([
      { role: 'system', content: 'SYS' },
      { role: 'user', content: 'I lost my keys.\n\n(A sentiment model read this as NEGATIVE, confidence 0.91.)' },
    ]);
    expect(buildMessages('SYS', { prompt: 'Hi' })[1]!.content).toBe('Hi');
  });

  it('drops a leading think block and surrounding blanks from the answer', () => {
    expect(cleanGeneratedText('<think>\n\n</think>\n  You can do this.  ')).toBe('You can do this.');
    expect(cleanGeneratedText('Keep going.')).toBe('Keep going.');
  });

  it('names the wrong field', () => {
    expect(() => parseGenerationRequest({ text: 'hi' })).toThrow(/missing field "prompt".*not "text"/);
    expect(() => parseGenerationRequest({ prompt: 3 })).toThrow(/"prompt" must be a string, got number/);
    expect(() => parseGenerationRequest({ prompt: 'hi', sentiment: { label: '', score: 0.5 } })).toThrow(/"sentiment.label"/);
    expect(() => parseGenerationRequest([])).toThrow(/JSON object/);
  });
});
