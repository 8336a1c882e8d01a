import { isIPv6 } from 'node:net';
import { networkInterfaces } from 'node:os';

/**
 * Value-based PII scrubbing for log lines (and the opt-in input copy in the prediction log).
 * pino's `redact` only knows key paths; an e-mail address inside a message or an error text
 * needs a look at the value. Patterns follow Microsoft Presidio's recognizers where they are
 * cheap to port (credit cards with a Luhn check, IBAN with its mod-97 check, IPv4/IPv6), and
 * each match is replaced with Presidio's `replace` convention: `<ENTITY_TYPE>`.
 *
 * Deliberately left alone: loopback and unspecified addresses (127.0.0.0/8, 0.0.0.0, ::1) and this
 * machine's own interface addresses (the server logs where it listens; that is nobody's personal
 * data), dates, times, version numbers, UUIDs.
 * Known gaps: names, postal addresses, national phone formats without a leading `+` or the
 * North American 3-3-4 shape.
 */

export type PiiEntity = 'HF_TOKEN' | 'API_KEY' | 'BEARER_TOKEN' | 'EMAIL_ADDRESS' | 'IBAN_CODE' | 'CREDIT_CARD' | 'PHONE_NUMBER' | 'IP_ADDRESS';

/**
 * Character counts of a string, taken in one pass. Every rule states what its pattern cannot
 * match without (a card needs 13 digits, an e-mail an '@'...), so most strings that reach the
 * scrubber (routes, UUIDs, versions, timestamps) skip most of the regular expressions.
 */
export interface TextShape {
  digits: number;
  upper: number;
  colons: number;
  dots: number;
  at: boolean;
}

export function shapeOf(text: string): TextShape {
  let digits = 0;
  let upper = 0;
  let colons = 0;
  let dots = 0;
  let at = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) digits++;
    else if (c >= 65 && c <= 90) upper++;
    else if (c === 58) colons++;
    else if (c === 46) dots++;
    else if (c === 64) at = true;
  }
  return { digits, upper, colons, dots, at };
}

export interface Rule {
  entity: PiiEntity;
  pattern: RegExp;
  /**
   * False only when the pattern cannot match (a necessary condition, never a heuristic): the
   * rule is then skipped. The shape is taken before any replacement; replacements (`<ENTITY>`)
   * add no digit, '@', ':' or '.', and their capitals are never followed by a digit, so they
   * cannot make a later rule match where the original text could not (test/unit/pii.test.ts
   * checks every rule against random strings).
   */
  mayMatch(shape: TextShape, text: string): boolean;
  /** Extra check on the match (checksums); a match that fails it is kept as it is. */
  accept?(match: string): boolean;
  replace?(match: string): string;
}

/** Luhn checksum over the digits of a candidate card number. */
export function luhnValid(candidate: string): boolean {
  const digits = candidate.replace(/\D/g, '');
  if (digits.length < 13 || digits.length > 19) return false;
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

/** ISO 13616 check: move the first four characters to the end, letters to numbers, mod 97 = 1. */
export function ibanValid(candidate: string): boolean {
  const iban = candidate.replace(/\s/g, '').toUpperCase();
  if (!/^[A-Z]{2}\d{2}[A-Z0-9]{11,30}$/.test(iban)) return false;
  const moved = iban.slice(4) + iban.slice(0, 4);
  let rest = 0;
  for (const ch of moved) {
    const code = ch.charCodeAt(0);
    const value = code >= 65 ? String(code - 55) : ch;
    for (const digit of value) rest = (rest * 10 + (digit.charCodeAt(0) - 48)) % 97;
  }
  return rest === 1;
}

/** The addresses of this machine's own interfaces, read once. */
const OWN_ADDRESSES: ReadonlySet<string> = (() => {
  try {
    return new Set(Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((i) => i.address.toLowerCase())));
  } catch {
    return new Set<string>();
  }
})();

const isLoopbackV4 = (ip: string) => ip.startsWith('127.') || ip === '0.0.0.0';

export const RULES: readonly Rule[] = [
  // Secrets first: a token may contain digits that would otherwise look like a card or a phone.
  { entity: 'HF_TOKEN', pattern: /\bhf_[A-Za-z0-9]{16,}\b/g, mayMatch: (_, text) => text.includes('hf_') },
  { entity: 'API_KEY', pattern: /\bsk-[A-Za-z0-9_-]{16,}\b/g, mayMatch: (_, text) => text.includes('sk-') },
  {
    entity: 'BEARER_TOKEN',
    mayMatch: (shape, text) => shape.digits > 0 && /bearer/i.test(text),
    // "Bearer" and a credential-looking word (16+ characters with a digit), not "Bearer authentication failed".
    pattern: /\bBearer\s+(?=[A-Za-z0-9._~+/=-]*\d)[A-Za-z0-9._~+/=-]{16,}/gi,
    replace: (match) => `${match.split(/\s+/)[0]} <BEARER_TOKEN>`,
  },
  {
    entity: 'EMAIL_ADDRESS',
    mayMatch: (shape) => shape.at,
    pattern: /[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,}\b/g,
  },
  {
    entity: 'IBAN_CODE',
    pattern: /\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b/g,
    mayMatch: (shape) => shape.upper >= 2 && shape.digits >= 2,
    accept: ibanValid,
  },
  // 13-19 digits, optionally grouped by single spaces or dashes; kept unless the Luhn check passes.
  { entity: 'CREDIT_CARD', pattern: /\b\d(?:[ -]?\d){12,18}\b/g, mayMatch: (shape) => shape.digits >= 13, accept: luhnValid },
  {
    entity: 'PHONE_NUMBER',
    // Both shapes need 8 digits (the international one by its accept check, the other has 10).
    mayMatch: (shape) => shape.digits >= 8,
    // International (+CC ...) with 8-15 digits, or the North American (415) 555-2671 / 415-555-2671 shape.
    pattern: /(?:\+\d{1,3}(?:[ .-]?\(?\d{1,4}\)?){2,5}\d{0,4}\b)|(?:(?:\(\d{3}\)\s?|\b\d{3}[ .-])\d{3}[ .-]\d{4}\b)/g,
    accept: (match) => {
      const digits = match.replace(/\D/g, '').length;
      return digits >= 8 && digits <= 15;
    },
  },
  {
    entity: 'IP_ADDRESS',
    mayMatch: (shape) => shape.digits >= 4 && shape.dots >= 3,
    pattern: /\b(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\b(?!\.\d)/g,
    accept: (match) => !isLoopbackV4(match) && !OWN_ADDRESSES.has(match),
  },
  {
    entity: 'IP_ADDRESS',
    // Colon-separated hex groups; net.isIPv6 decides (times such as 11:09:03 are not addresses).
    mayMatch: (shape) => shape.colons >= 2,
    pattern: /(?<![\w:.])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?![\w:])/g,
    accept: (match) => isIPv6(match) && match !== '::1' && match !== '::' && !OWN_ADDRESSES.has(match.toLowerCase()),
  },
];

/** Quick pre-check: strings without a digit or an '@' hold none of the patterns (most log strings). */
const MAY_HOLD_PII = /[\d@]/;
/** A string that is one UUID (a request id): an identifier, left alone as documented above. */
const WHOLE_UUID = /^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$/;

/** Replaces every PII match in a string with `<ENTITY_TYPE>`. Strings without any are returned as they are. */
export function scrubPII(text: string, counts?: Partial<Record<PiiEntity, number>>): string {
  if (!MAY_HOLD_PII.test(text) || WHOLE_UUID.test(text)) return text;
  const shape = shapeOf(text);
  let out = text;
  for (const rule of RULES) {
    if (!rule.mayMatch(shape, text)) continue;
    rule.pattern.lastIndex = 0;
    out = out.replace(rule.pattern, (match) => {
      if (rule.accept && !rule.accept(match)) return match;
      if (counts) counts[rule.entity] = (counts[rule.entity] ?? 0) + 1;
      return rule.replace ? rule.replace(match) : `<${rule.entity}>`;
    });
  }
  return out;
}

/**
 * Keys whose values are secrets wherever they appear in a log object, at any depth. pino's
 * `redact` could do this with wildcard paths (`*.token`), but a wildcard path makes pino run
 * its redactor over every field of every line (~12 µs a line, more than the rest of the
 * line); the walk below visits every value anyway.
 */
export const SECRET_KEYS: ReadonlySet<string> = new Set(['token', 'hfToken', 'adminToken', 'apiKey']);
export const REDACTED = '[redacted]';

function holdsSecretKey(value: object): boolean {
  for (const key of SECRET_KEYS) if (Object.hasOwn(value, key)) return true;
  return false;
}

/**
 * Scrubs every string inside a log object (nested objects and arrays, errors' message and
 * stack) and replaces the values of SECRET_KEYS. Returns the same object when nothing
 * changed, so the common case allocates nothing.
 */
export function scrubValue(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return scrubPII(value);
  if (depth > 8 || value === null || typeof value !== 'object') return value;
  if (value instanceof Error) {
    // pino's error serializer would read message/stack from the original; hand it a scrubbed plain copy.
    const plain: Record<string, unknown> = { type: value.name, message: scrubPII(value.message) };
    if (value.stack) plain.stack = scrubPII(value.stack);
    for (const [k, v] of Object.entries(value)) plain[k] = SECRET_KEYS.has(k) ? REDACTED : scrubValue(v, depth + 1);
    if (value.cause !== undefined) plain.cause = scrubValue(value.cause, depth + 1);
    return plain;
  }
  if (Array.isArray(value)) {
    let changed = false;
    const out = value.map((v) => {
      const s = scrubValue(v, depth + 1);
      if (s !== v) changed = true;
      return s;
    });
    return changed ? out : value;
  }
  // Only plain objects are walked: buffers, dates, class instances with their own serializers
  // pass untouched, unless they carry a secret key of their own.
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto !== Object.prototype && proto !== null) {
    if (!holdsSecretKey(value)) return value;
    const copy: Record<string, unknown> = { ...(value as Record<string, unknown>) };
    for (const key of SECRET_KEYS) if (Object.hasOwn(copy, key)) copy[key] = REDACTED;
    return copy;
  }
  let out: Record<string, unknown> | undefined;
  for (const k in value) {
    const v = (value as Record<string, unknown>)[k];
    const s = SECRET_KEYS.has(k) && v !== undefined ? REDACTED : scrubValue(v, depth + 1);
    if (s !== v) {
      out ??= { ...(value as Record<string, unknown>) };
      out[k] = s;
    }
  }
  return out ?? value;
}
