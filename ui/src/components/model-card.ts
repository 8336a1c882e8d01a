import { h, replace } from '../lib/dom.js';
import type { ModelInfo } from '../lib/types.js';

/** Metrics that are ratios in 0..1 read best as percentages; errors and R² as plain numbers. */
const RATIO_METRICS = /^(accuracy|acc|precision|recall|f1|auc|roc_auc|balanced_accuracy|macro_f1|top\d?_?accuracy)$/i;

const PRETTY: Record<string, string> = { f1: 'F1', auc: 'AUC', roc_auc: 'ROC AUC', mae: 'MAE', rmse: 'RMSE', mse: 'MSE', r2: 'R²', mape: 'MAPE' };

function metricName(key: string): string {
  return PRETTY[key.toLowerCase()] ?? key.replace(/_/g, ' ').replace(/^./, (c) => c.toUpperCase());
}

function metricValue(key: string, value: number): string {
  if (RATIO_METRICS.test(key) && value >= 0 && value <= 1) return `${(value * 100).toFixed(1)}%`;
  return Math.abs(value) >= 100 ? value.toFixed(0) : value.toPrecision(3);
}

/** The held-out numbers a spec records under `evaluation.metrics` (or flat in `evaluation`). */
export function evaluationMetrics(model: ModelInfo): { metrics: [string, number][]; samples?: number } {
  const evaluation = model.evaluation as Record<string, unknown> | undefined;
  if (!evaluation || typeof evaluation !== 'object') return { metrics: [] };
  const source = (evaluation.metrics && typeof evaluation.metrics === 'object' ? evaluation.metrics : evaluation) as Record<string, unknown>;
  const metrics = Object.entries(source).filter((entry): entry is [string, number] => typeof entry[1] === 'number' && entry[0] !== 'n');
  return { metrics: metrics.slice(0, 4), samples: typeof evaluation.n === 'number' ? evaluation.n : undefined };
}

/**
 * "About this model": what it is and how well it did on held-out data at training time, from
 * the model's own spec, so a visitor can judge the prediction they just got.
 */
export function modelCard(): { element: HTMLElement; update(model: ModelInfo): void } {
  const body = h('div', { class: 'about__body' });
  const element = h('section', { class: 'card about', 'aria-label': 'About this model' }, h('p', { class: 'prediction__eyebrow' }, 'About this model'), body);
  return {
    element,
    update(model) {
      const { metrics, samples } = evaluationMetrics(model);
      replace(
        body,
        h('p', { class: 'about__name' }, h('strong', {}, model.name), ` v${model.version}`, h('span', { class: 'about__tags' }, ` · ${model.task} · ${model.runtime}`)),
        model.description ? h('p', { class: 'about__description' }, model.description) : false,
        metrics.length
          ? h(
              'dl',
              { class: 'stats' },
              ...metrics.map(([key, value]) => h('div', { class: 'stat' }, h('dt', {}, metricName(key)), h('dd', {}, metricValue(key, value)))),
            )
          : false,
        metrics.length && samples ? h('p', { class: 'field__note' }, `Measured at training time on ${samples.toLocaleString('en')} held-out examples.`) : false,
      );
    },
  };
}
