import { textClassifierPanel } from '../components/text-classifier.js';
import type { Catalog } from '../lib/catalog.js';
import { h } from '../lib/dom.js';

/** Mail-length and chat-length messages alike: most of what people check is a line or two (issue 15). */
export const SPAM_EXAMPLES = [
  'Congratulations! You have WON a $1000 gift card. Click here to claim your prize now!!!',
  'Hi Sam, are we still on for lunch tomorrow at noon?',
  'Buy cheap iPhone now!!!',
  'Thanks, see you tomorrow',
  'Running 10 min late, sorry',
  'URGENT: your account has been suspended, verify your password at this link',
];

export function spamTab(catalog: Catalog): HTMLElement {
  return textClassifierPanel(catalog, {
    id: 'spam',
    modelName: 'spam',
    inputLabel: 'Message or e-mail to check',
    placeholder: 'Paste a message…',
    examples: SPAM_EXAMPLES,
    buttonText: 'Check for spam',
    absentHint: [
      'The spam filter is served from ',
      h('code', {}, 'models/spam'),
      ' once it has been trained (see the README), or from any text-classification folder with ',
      h('code', {}, 'vigil serve --model spam=PATH'),
      '.',
    ],
  });
}
