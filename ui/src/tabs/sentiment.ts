import { textClassifierPanel } from '../components/text-classifier.js';
import type { Catalog } from '../lib/catalog.js';
import { h } from '../lib/dom.js';

export const SENTIMENT_EXAMPLES = ['I am so happy today!', 'This is the worst day ever.', 'I feel okay, I guess.'];

/**
 * The local sentiment model. When the server has no model called `sentiment` but its default
 * model classifies text (e.g. `vigil serve --model ./my-model`), that one is used instead.
 */
export function sentimentTab(catalog: Catalog): HTMLElement {
  return textClassifierPanel(catalog, {
    id: 'sentiment',
    modelName: 'sentiment',
    pick: (snapshot) => {
      const named = snapshot.models.find((m) => m.name === 'sentiment');
      if (named) return named;
      const fallback = snapshot.models.find((m) => m.name === snapshot.defaultModel);
      return fallback?.task === 'text-classification' ? fallback : undefined;
    },
    inputLabel: 'Text to analyze',
    placeholder: 'Write a sentence, a review, a message…',
    examples: SENTIMENT_EXAMPLES,
    buttonText: 'Analyze sentiment',
    absentHint: [
      'Vigil ships a sentiment model in ',
      h('code', {}, 'models/sentiment'),
      '; start the server without ',
      h('code', {}, '--no-embedded'),
      ', or serve your own with ',
      h('code', {}, 'vigil serve --model sentiment=PATH'),
      '.',
    ],
  });
}
