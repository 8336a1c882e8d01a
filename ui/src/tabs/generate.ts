import { errorBox } from '../components/error-box.js';
import { gatedPanel } from '../components/gate.js';
import { toneOf } from '../components/score-bars.js';
import { ApiError, errorFromBody, postForStream, postJson, predictPath } from '../lib/api.js';
import type { Catalog } from '../lib/catalog.js';
import { h, replace } from '../lib/dom.js';
import { milliseconds, probability } from '../lib/format.js';
import { readSse } from '../lib/sse.js';
import type { ClassificationResult, GenerationResult } from '../lib/types.js';

const MODEL = 'positive-thought';
const EXAMPLES = ['I failed my driving test today.', 'Work has been overwhelming this week.', 'I just moved to a new city and know nobody.'];

interface StreamHandlers {
  onToken(delta: string): void;
}

/**
 * Calls the remote generation model and reads its event stream: `token` events carry text
 * deltas, then exactly one `done` (the full answer) or `error` event ends it. A server that
 * answers plain JSON instead (no streaming) is handled too.
 */
async function generate(body: unknown, handlers: StreamHandlers, signal: AbortSignal): Promise<GenerationResult> {
  const response = await postForStream(predictPath(MODEL), body, signal);
  if ((response.headers.get('content-type') ?? '').includes('application/json')) {
    const json = (await response.json()) as GenerationResult | { error: unknown };
    if ('error' in json) throw errorFromBody(response.status, json);
    return json;
  }
  if (!response.body) throw new ApiError(0, 'upstream_error', 'The server answered without a body.');
  for await (const event of readSse(response.body)) {
    if (event.event === 'token') {
      const delta = (JSON.parse(event.data) as { text?: unknown }).text;
      if (typeof delta === 'string') handlers.onToken(delta);
    } else if (event.event === 'done') {
      return JSON.parse(event.data) as GenerationResult;
    } else if (event.event === 'error') {
      // Before the first token the server also sets the HTTP status; mid-stream it stays 200.
      throw errorFromBody(response.ok ? 0 : response.status, JSON.parse(event.data));
    }
  }
  throw new ApiError(0, 'upstream_error', 'The stream ended before the model said it was done.');
}

export function generateTab(catalog: Catalog): HTMLElement {
  let inFlight: AbortController | undefined;

  const build = () => {
    const prompt = h('textarea', { id: 'generate-prompt', class: 'input input--text', rows: 4, placeholder: 'What’s on your mind?', maxlength: 4000 });
    const withSentiment = h('input', { type: 'checkbox', id: 'generate-with-sentiment', checked: true });
    const sentimentField = h(
      'div',
      { class: 'checkbox' },
      withSentiment,
      h('label', { for: withSentiment.id }, 'Match the mood: run the local sentiment model on my text first and pass its result along'),
    );
    const generateButton = h('button', { type: 'submit', class: 'button button--primary' }, 'Generate a positive thought');
    const stopButton = h('button', { type: 'button', class: 'button', disabled: true }, 'Stop');
    const output = h('div', { class: 'result', id: 'generate-result', 'aria-live': 'polite' }, h('p', { class: 'result__empty' }, 'The answer streams in here, word by word.'));

    // The sentiment option needs the local model; say so instead of failing the whole request.
    catalog.subscribe((snapshot) => {
      const available = snapshot.models.some((m) => m.name === 'sentiment' && m.state === 'ready');
      withSentiment.disabled = !available;
      if (!available) withSentiment.checked = false;
      sentimentField.title = available ? '' : 'No local sentiment model is loaded';
    });

    const run = async () => {
      const text = prompt.value.trim();
      if (!text) {
        replace(output, h('p', { class: 'notice notice--muted' }, 'Write something first: the model answers it with a positive thought.'));
        prompt.focus();
        return;
      }
      inFlight?.abort();
      const controller = new AbortController();
      inFlight = controller;
      generateButton.disabled = true;
      stopButton.disabled = false;
      const started = performance.now();
      let firstTokenMs: number | undefined;
      let tokens = 0;

      const sentimentSlot = h('p', { class: 'generation__mood' });
      const streamed = h('span', { class: 'generation__text' });
      const caret = h('span', { class: 'caret', 'aria-hidden': 'true' });
      const meta = h('dl', { class: 'meta' });
      const status = h('p', { class: 'generation__status' }, 'Waiting for the model…');
      const box = h('div', { class: 'generation', 'aria-busy': 'true' }, sentimentSlot, h('p', { class: 'generation__body' }, streamed, caret), status, meta);
      replace(output, box);

      try {
        let sentiment: { label: string; score: number } | undefined;
        if (withSentiment.checked) {
          const local = await postJson<ClassificationResult>(predictPath('sentiment'), { text }, controller.signal);
          sentiment = { label: local.label, score: local.score };
          replace(sentimentSlot, 'Your text reads ', h('span', { class: `pill pill--${toneOf(local.label)}` }, local.label), ` (${probability(local.score)})`);
        }
        const result = await generate(
          { prompt: text, stream: true, ...(sentiment ? { sentiment } : {}) },
          {
            onToken: (delta) => {
              firstTokenMs ??= performance.now() - started;
              tokens++;
              streamed.textContent += delta;
              status.textContent = 'Generating…';
            },
          },
          controller.signal,
        );
        const total = performance.now() - started;
        // The final text is authoritative (a stream may have been re-assembled server-side).
        if (typeof result.text === 'string') streamed.textContent = result.text;
        caret.remove();
        status.remove();
        replace(
          meta,
          h('div', {}, h('dt', {}, 'First token'), h('dd', {}, firstTokenMs === undefined ? '–' : milliseconds(firstTokenMs))),
          h('div', {}, h('dt', {}, 'Total'), h('dd', {}, milliseconds(total))),
          h('div', {}, h('dt', {}, 'Chunks'), h('dd', {}, String(tokens))),
          h('div', {}, h('dt', {}, 'Model'), h('dd', {}, `${result.model ?? MODEL} v${result.version ?? '?'}`)),
        );
        box.dataset.done = 'true';
      } catch (error) {
        caret.remove();
        status.remove();
        if ((error as Error).name === 'AbortError') {
          box.append(h('p', { class: 'notice notice--muted' }, 'Stopped.'));
        } else {
          box.append(errorBox(error));
        }
      } finally {
        box.setAttribute('aria-busy', 'false');
        if (inFlight === controller) {
          generateButton.disabled = false;
          stopButton.disabled = true;
        }
      }
    };

    stopButton.addEventListener('click', () => inFlight?.abort());
    const form = h(
      'form',
      { class: 'form', novalidate: true },
      h('label', { class: 'field__label', for: prompt.id }, 'Tell the model how you feel'),
      prompt,
      h(
        'div',
        { class: 'chips', role: 'group', 'aria-label': 'Examples' },
        h('span', { class: 'chips__label' }, 'Try:'),
        ...EXAMPLES.map((example) => h('button', { type: 'button', class: 'chip', onclick: () => { prompt.value = example; prompt.focus(); } }, example)),
      ),
      sentimentField,
      h('div', { class: 'form__actions' }, generateButton, stopButton),
    );
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      void run();
    });
    prompt.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        void run();
      }
    });
    return h('div', { class: 'split' }, h('div', { class: 'card' }, form), h('div', { class: 'card card--result' }, output));
  };

  return gatedPanel(catalog, {
    modelName: MODEL,
    absentHint: [
      'This tab calls a hosted text-generation model through Vigil’s remote runtime (Hugging Face Inference Providers or any OpenAI-compatible endpoint). ',
      'The README explains the token and endpoint settings that switch it on.',
    ],
    build,
  });
}
