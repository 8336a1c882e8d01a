import { errorBox } from '../components/error-box.js';
import { gatedPanel } from '../components/gate.js';
import { modelCard } from '../components/model-card.js';
import { getJson, postJson, predictPath } from '../lib/api.js';
import type { Catalog } from '../lib/catalog.js';
import { h, replace } from '../lib/dom.js';
import { milliseconds } from '../lib/format.js';
import { describeTabular, type TabularDescription } from '../lib/tabular.js';
import type { ModelInfo, RegressionResult } from '../lib/types.js';

const MODEL = 'air-quality';

/** A form of sensor readings, prefilled with a real row from the model's spec, and the predicted value. */
export function airQualityTab(catalog: Catalog): HTMLElement {
  let form: HTMLFormElement | undefined;
  let fieldsSlot: HTMLElement | undefined;
  let result: HTMLElement | undefined;
  let description: TabularDescription | undefined;
  let inFlight: AbortController | undefined;
  const about = modelCard();

  const inputId = (name: string) => `aq-${name.replace(/[^A-Za-z0-9_-]/g, '_')}`;

  const fill = () => {
    if (!form || !description) return;
    for (const feature of description.features) {
      const input = form.querySelector<HTMLInputElement>(`#${CSS.escape(inputId(feature.name))}`);
      // An example row is used as is; a training mean is rounded (4 significant digits) to read as a reading.
      const example = description.example[feature.name];
      const value = example ?? (feature.typical === undefined ? undefined : Number(feature.typical.toPrecision(4)));
      if (input) input.value = value === undefined ? '' : String(value);
    }
  };

  const render = (next: TabularDescription) => {
    description = next;
    if (!fieldsSlot) return;
    form?.classList.toggle('form--no-fields', next.features.length === 0);
    // Say honestly where the starting values come from.
    const note = form?.querySelector('#aq-prefill-note');
    if (note) {
      note.textContent =
        Object.keys(next.example).length > 0
          ? 'Prefilled with a real reading from the model’s data. Change any value and predict again.'
          : 'Prefilled with the training averages where the model lists them. Change any value and predict again.';
    }
    if (next.features.length === 0) {
      replace(
        fieldsSlot,
        h(
          'p',
          { class: 'notice notice--warn' },
          'The server’s description of this model (',
          h('code', {}, `GET /v1/models/${MODEL}`),
          ') has no feature list, so there is no form to show. Its JSON API still answers at ',
          h('code', {}, predictPath(MODEL)),
          '.',
        ),
      );
      return;
    }
    replace(
      fieldsSlot,
      ...next.features.map((feature) => {
        const id = inputId(feature.name);
        return h(
          'div',
          { class: 'field' },
          h('label', { class: 'field__label', for: id }, feature.name, feature.unit ? h('span', { class: 'field__unit' }, ` (${feature.unit})`) : false),
          h('input', {
            id,
            class: 'input',
            type: 'number',
            step: 'any',
            required: true,
            inputmode: 'decimal',
            name: feature.name,
            min: feature.min,
            max: feature.max,
            'aria-describedby': feature.description ? `${id}-hint` : undefined,
          }),
          feature.description ? h('p', { class: 'field__note', id: `${id}-hint` }, feature.description) : false,
        );
      }),
    );
    fill();
  };

  const predict = async () => {
    if (!form || !description || !result) return;
    const features: Record<string, number> = {};
    for (const feature of description.features) {
      const input = form.querySelector<HTMLInputElement>(`#${CSS.escape(inputId(feature.name))}`);
      const value = input?.value.trim() ?? '';
      if (value === '' || !Number.isFinite(Number(value))) {
        replace(result, h('p', { class: 'notice notice--warn', role: 'alert' }, `Enter a number for “${feature.name}”.`));
        input?.focus();
        return;
      }
      features[feature.name] = Number(value);
    }
    inFlight?.abort();
    const controller = new AbortController();
    inFlight = controller;
    const started = performance.now();
    try {
      const answer = await postJson<RegressionResult>(predictPath(MODEL), { features }, controller.signal);
      const elapsed = performance.now() - started;
      const target = answer.target ?? description.target;
      const unit = answer.unit ?? description.unit;
      replace(
        result,
        h(
          'div',
          { class: 'prediction', 'data-value': answer.value },
          h('p', { class: 'prediction__eyebrow' }, target ? `Predicted ${target}` : 'Prediction'),
          h('p', { class: 'prediction__big' }, h('span', { class: 'prediction__value' }, formatValue(answer.value)), unit ? h('span', { class: 'prediction__unit' }, unit) : false),
          description.description ? h('p', { class: 'field__note' }, description.description) : false,
          h(
            'dl',
            { class: 'meta' },
            h('div', {}, h('dt', {}, 'Latency'), h('dd', {}, milliseconds(elapsed))),
            h('div', {}, h('dt', {}, 'Model'), h('dd', {}, `${answer.model} v${answer.version}`)),
          ),
        ),
      );
    } catch (error) {
      if ((error as Error).name !== 'AbortError') replace(result, errorBox(error));
    }
  };

  const build = () => {
    fieldsSlot = h('div', { class: 'fields' }, h('p', { class: 'result__empty' }, 'Reading the model’s input features…'));
    result = h('div', { class: 'result', id: 'aq-result', 'aria-live': 'polite' }, h('p', { class: 'result__empty' }, 'The predicted value appears here.'));
    form = h(
      'form',
      { class: 'form', novalidate: true },
      h('p', { class: 'field__note form__only-with-fields', id: 'aq-prefill-note' }),
      fieldsSlot,
      h('div', { class: 'form__actions form__only-with-fields' }, h('button', { type: 'submit', class: 'button button--primary' }, 'Predict'), h('button', { type: 'button', class: 'button', onclick: fill }, 'Reset values')),
    );
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      void predict();
    });
    if (description) render(description);
    return h('div', { class: 'split' }, h('div', { class: 'card' }, form), h('div', { class: 'stack' }, h('div', { class: 'card card--result' }, result), about.element));
  };

  const load = async (model: ModelInfo) => {
    try {
      // The single-model answer may carry more of the spec than the list does.
      const detail = await getJson<Record<string, unknown>>(`/v1/models/${encodeURIComponent(model.name)}`);
      render(describeTabular(detail));
    } catch (error) {
      if (fieldsSlot) replace(fieldsSlot, errorBox(error));
    }
  };

  return gatedPanel(catalog, {
    modelName: MODEL,
    absentHint: [
      'The air-quality regressor (trained on the UCI Air Quality sensor data) is served from ',
      h('code', {}, 'models/air-quality'),
      ' once it has been trained (see the README). Restart the server after adding it and this tab switches on.',
    ],
    build,
    onModel: (model) => {
      about.update(model);
      void load(model);
    },
  });
}

function formatValue(value: number): string {
  const abs = Math.abs(value);
  return value.toFixed(abs >= 100 ? 0 : abs >= 10 ? 1 : 2);
}
