import { postJson, predictPath } from '../lib/api.js';
import type { Catalog, CatalogSnapshot } from '../lib/catalog.js';
import { h, replace } from '../lib/dom.js';
import { milliseconds, probability } from '../lib/format.js';
import type { ClassificationResult, ModelInfo } from '../lib/types.js';
import { apiSnippet } from './api-snippet.js';
import { errorBox } from './error-box.js';
import { gatedPanel } from './gate.js';
import { modelCard } from './model-card.js';
import { scoreBars, toneOf } from './score-bars.js';

export interface TextClassifierOptions {
  /** Used for element ids: unique per page. */
  id: string;
  modelName: string;
  pick?: (snapshot: CatalogSnapshot) => ModelInfo | undefined;
  inputLabel: string;
  placeholder: string;
  examples: string[];
  buttonText: string;
  absentHint: (string | Node)[];
}

/**
 * A text box, example chips and the model's answer as a labelled confidence bar per label,
 * with the round-trip latency measured here in the browser. Sentiment and spam both use it.
 */
export function textClassifierPanel(catalog: Catalog, options: TextClassifierOptions): HTMLElement {
  let model: ModelInfo | undefined;
  let inFlight: AbortController | undefined;
  const about = modelCard();
  const snippet = apiSnippet(() => predictPath(model?.name ?? options.modelName));

  const build = () => {
    const textarea = h('textarea', {
      id: `${options.id}-text`,
      class: 'input input--text',
      rows: 4,
      placeholder: options.placeholder,
      maxlength: 20000,
      'aria-describedby': `${options.id}-hint`,
    });
    const button = h('button', { type: 'submit', class: 'button button--primary' }, options.buttonText);
    const result = h(
      'div',
      { class: 'result', 'aria-live': 'polite', id: `${options.id}-result` },
      h('p', { class: 'result__empty' }, 'The prediction appears here, with how sure the model is of each label.'),
    );
    const modelNote = h('p', { class: 'field__note', id: `${options.id}-model-note` });

    const analyze = async () => {
      syncSnippet(); // example chips set the text without an input event
      const text = textarea.value;
      if (!model) return;
      if (text.trim() === '') {
        replace(result, h('p', { class: 'notice notice--muted' }, 'Type or pick some text first.'));
        textarea.focus();
        return;
      }
      inFlight?.abort();
      const controller = new AbortController();
      inFlight = controller;
      button.disabled = true;
      button.setAttribute('aria-busy', 'true');
      result.classList.add('result--pending');
      const started = performance.now();
      try {
        const answer = await postJson<ClassificationResult>(predictPath(model.name), { text }, controller.signal);
        const elapsed = performance.now() - started;
        replace(result, renderResult(answer, elapsed));
      } catch (error) {
        if ((error as Error).name !== 'AbortError') replace(result, errorBox(error));
      } finally {
        if (inFlight === controller) {
          button.disabled = false;
          button.removeAttribute('aria-busy');
          result.classList.remove('result--pending');
        }
      }
    };

    const form = h(
      'form',
      { class: 'form', novalidate: true },
      h('label', { class: 'field__label', for: textarea.id }, options.inputLabel),
      textarea,
      h(
        'div',
        { class: 'chips', role: 'group', 'aria-label': 'Examples' },
        h('span', { class: 'chips__label' }, 'Try:'),
        ...options.examples.map((example) =>
          h(
            'button',
            {
              type: 'button',
              class: 'chip',
              title: example,
              onclick: () => {
                textarea.value = example;
                void analyze();
              },
            },
            example,
          ),
        ),
      ),
      h(
        'div',
        { class: 'form__actions' },
        button,
        h('span', { class: 'field__hint', id: `${options.id}-hint` }, h('kbd', {}, 'Ctrl'), ' + ', h('kbd', {}, 'Enter'), ' to submit'),
      ),
      modelNote,
    );
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      void analyze();
    });
    textarea.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        void analyze();
      }
    });
    // The curl example follows the text box (an example text until something is typed).
    const syncSnippet = () => snippet.update({ text: textarea.value.trim() === '' ? options.examples[0] ?? 'Hello' : textarea.value });
    textarea.addEventListener('input', syncSnippet);
    syncSnippet();
    return h(
      'div',
      { class: 'split' },
      h('div', { class: 'stack' }, h('div', { class: 'card' }, form), snippet.element),
      h('div', { class: 'stack' }, h('div', { class: 'card card--result' }, result), about.element),
    );
  };

  const panel = gatedPanel(catalog, {
    modelName: options.modelName,
    pick: options.pick,
    absentHint: options.absentHint,
    build,
    onModel: (next) => {
      model = next;
      about.update(next);
      panel.querySelector('textarea')?.dispatchEvent(new Event('input'));
      const note = panel.querySelector<HTMLElement>(`#${options.id}-model-note`);
      if (note) {
        replace(
          note,
          'Model ',
          h('code', {}, `${next.name} v${next.version}`),
          next.labels?.length ? ` · labels ${next.labels.join(', ')}` : '',
          next.name !== options.modelName ? ` (the server’s default model; no “${options.modelName}” model is loaded)` : '',
        );
      }
    },
  });
  return panel;
}

function renderResult(answer: ClassificationResult, elapsedMs: number): HTMLElement {
  const tone = toneOf(answer.label);
  return h(
    'div',
    { class: 'prediction', 'data-label': answer.label, 'data-score': answer.score, 'data-truncated': String(answer.truncated === true) },
    h('p', { class: 'prediction__eyebrow' }, 'Prediction'),
    h(
      'p',
      { class: 'prediction__headline' },
      h('span', { class: `pill pill--${tone} prediction__label` }, answer.label),
      h('span', { class: 'prediction__confidence' }, `${probability(answer.score)} confident`),
    ),
    scoreBars(answer.scores, { winner: answer.label }),
    answer.truncated
      ? h('p', { class: 'notice notice--warn', role: 'note' }, 'The text was longer than the model reads, so only its beginning was used.')
      : false,
    h(
      'dl',
      { class: 'meta' },
      h('div', {}, h('dt', {}, 'Latency'), h('dd', { class: 'meta__latency' }, milliseconds(elapsedMs))),
      h('div', {}, h('dt', {}, 'Model'), h('dd', {}, `${answer.model} v${answer.version}`)),
      h('div', {}, h('dt', {}, 'Request'), h('dd', { title: answer.request_id }, h('code', {}, answer.request_id.slice(0, 8)))),
    ),
  );
}
