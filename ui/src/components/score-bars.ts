import { h } from '../lib/dom.js';
import { probability } from '../lib/format.js';

/**
 * Colour family of a label, so "POSITIVE" reads green and "spam" red whatever the model calls
 * them; unknown labels cycle through neutral accents.
 */
export function toneOf(label: string): string {
  const l = label.toLowerCase();
  if (/^(pos|positive|ham|not[_ -]?spam|good)$/.test(l)) return 'good';
  if (/^(neg|negative|spam|bad|toxic)$/.test(l)) return 'bad';
  if (/^(neu|neutral|mixed)$/.test(l)) return 'neutral';
  return 'accent';
}

/**
 * One row per label: name, a bar as wide as the probability, and the percentage. Each bar is
 * a `meter` for assistive technology; sorted by probability unless `order` fixes the order
 * (digits read better 0..9).
 */
export function scoreBars(scores: Record<string, number>, options: { winner?: string; order?: string[]; tone?: (label: string) => string } = {}): HTMLElement {
  const labels = options.order ?? Object.keys(scores).sort((a, b) => (scores[b] ?? 0) - (scores[a] ?? 0));
  const tone = options.tone ?? toneOf;
  return h(
    'ul',
    { class: 'bars', 'aria-label': 'Probability per label' },
    ...labels.map((label) => {
      const score = scores[label] ?? 0;
      const fill = h('span', { class: 'bar__fill' });
      fill.style.width = `${Math.max(0, Math.min(1, score)) * 100}%`;
      return h(
        'li',
        { class: `bar bar--${tone(label)}${label === options.winner ? ' bar--winner' : ''}`, 'data-label': label, 'data-score': score },
        h('span', { class: 'bar__label' }, label),
        h(
          'span',
          {
            class: 'bar__track',
            role: 'meter',
            'aria-label': `${label} probability`,
            'aria-valuemin': 0,
            'aria-valuemax': 100,
            'aria-valuenow': Number((score * 100).toFixed(1)),
            'aria-valuetext': probability(score),
          },
          fill,
        ),
        h('span', { class: 'bar__value' }, probability(score)),
      );
    }),
  );
}
