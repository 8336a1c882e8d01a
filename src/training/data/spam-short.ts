import type { Email } from './spam.js';

/**
 * Short texts cut from SpamAssassin messages, the length of a chat message or an SMS. The corpus
 * is e-mail (subject + body), where texts this short are rare, while the users of a spam filter
 * send messages of a line or two; no short-message corpus is served by the npm registry or Debian
 * (searched: package names with "sms"/"spam", `apt-cache search sms spam corpus`), so the short
 * texts come from the mail itself:
 *
 *   - the subject alone;
 *   - sentences of the body: lines that are not quoted (`>`), not an attribution ("... wrote:"),
 *     not a bare URL, cut at `. ! ?`, kept when they have at least 3 words and at most
 *     `SMS_LENGTH` characters.
 *
 * Each keeps its message's label. A spam message's first sentence can be innocent ("Dear
 * friend,"), so short-spam recall is a noisy figure; short-ham false positives are the figure
 * that matters (an ordinary line flagged as spam).
 */

export const SMS_LENGTH = 160;
const MIN_WORDS = 3;

export type ShortKind = 'subject' | 'first sentence';

export interface ShortText {
  text: string;
  label: number;
  kind: ShortKind;
  /** The message it was cut from (group/id). */
  from: string;
}

/** The body's sentences of SMS length, in order. */
export function bodySentences(body: string): string[] {
  const out: string[] = [];
  for (const raw of body.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('>') || /wrote:$/i.test(line) || /^(https?:\/\/|www\.|url:)\S*$/i.test(line) || /^url:/i.test(line)) continue;
    for (const s of line.split(/(?<=[.!?])\s+/)) {
      const sentence = s.trim();
      if (sentence.length <= SMS_LENGTH && sentence.split(/\s+/).length >= MIN_WORDS) out.push(sentence);
    }
  }
  return out;
}

/** The held-out short texts of a set of messages: each subject, and each body's first sentence. */
export function shortTexts(emails: Email[]): ShortText[] {
  const out: ShortText[] = [];
  for (const e of emails) {
    if (e.subject && e.subject.length <= SMS_LENGTH) out.push({ text: e.subject, label: e.label, kind: 'subject', from: e.id });
    const first = bodySentences(e.body)[0];
    if (first) out.push({ text: first, label: e.label, kind: 'first sentence', from: e.id });
  }
  return out;
}

/**
 * Extra training examples from the training messages: each subject alone and up to `perMessage`
 * body sentences, with the message's label, so that short texts are in the training distribution.
 */
export function shortTrainingExamples(emails: Email[], perMessage: number): { texts: string[]; labels: number[] } {
  const texts: string[] = [];
  const labels: number[] = [];
  for (const e of emails) {
    if (e.subject) {
      texts.push(e.subject);
      labels.push(e.label);
    }
    for (const s of bodySentences(e.body).slice(0, perMessage)) {
      texts.push(s);
      labels.push(e.label);
    }
  }
  return { texts, labels };
}
