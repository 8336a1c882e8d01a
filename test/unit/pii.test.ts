import { networkInterfaces } from 'node:os';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/observability/logger.js';
import { ibanValid, luhnValid, RULES, scrubPII, scrubValue } from '../../src/observability/pii.js';

describe('scrubPII: what goes', () => {
  it.each([
    ['write to jane.doe+news@example.co.uk today', 'write to <EMAIL_ADDRESS> today'],
    ['card 4111 1111 1111 1111 exp 12/29', 'card <CREDIT_CARD> exp 12/29'],
    ['card 5500-0000-0000-0004', 'card <CREDIT_CARD>'],
    ['amex 378282246310005.', 'amex <CREDIT_CARD>.'],
    ['call +44 20 7946 0958 now', 'call <PHONE_NUMBER> now'],
    ['call +1 (415) 555-2671', 'call <PHONE_NUMBER>'],
    ['office (415) 555-2671 or 415-555-2671', 'office <PHONE_NUMBER> or <PHONE_NUMBER>'],
    ['from 203.0.113.42 via 10.1.2.3', 'from <IP_ADDRESS> via <IP_ADDRESS>'],
    ['client 2001:db8::8a2e:370:7334 connected', 'client <IP_ADDRESS> connected'],
    ['IBAN DE89 3704 0044 0532 0130 00 please', 'IBAN <IBAN_CODE> please'],
    ['iban GB82WEST12345698765432', 'iban <IBAN_CODE>'],
    ['Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOjF9.abc123', 'Authorization: Bearer <BEARER_TOKEN>'],
    ['token hf_AbCdEfGhIjKlMnOpQrStUvWxYz0123 leaked', 'token <HF_TOKEN> leaked'],
    ['key sk-proj-1234567890abcdefABCDEF', 'key <API_KEY>'],
  ])('%s', (input, expected) => {
    expect(scrubPII(input)).toBe(expected);
  });

  it("keeps this machine's own interface addresses (where the server listens)", () => {
    const own = Object.values(networkInterfaces()).flatMap((l) => l ?? []).find((i) => i.family === 'IPv4' && !i.internal)?.address;
    if (own) expect(scrubPII(`Server listening at http://${own}:8000`)).toBe(`Server listening at http://${own}:8000`);
    expect(scrubPII('Server listening at http://203.0.113.77:8000')).toBe('Server listening at http://<IP_ADDRESS>:8000');
  });

  it('counts what it replaced, by entity', () => {
    const counts: Record<string, number> = {};
    scrubPII('a@b.io and c@d.io from 198.51.100.7', counts);
    expect(counts).toEqual({ EMAIL_ADDRESS: 2, IP_ADDRESS: 1 });
  });
});

describe('scrubPII: what stays', () => {
  it.each([
    'vigil 0.1.0 on node v20.18.1, onnxruntime 1.30.0',
    '2026-11-21T11:09:03.123Z',
    'took 12.345 ms at 11:09:03',
    'listening on http://127.0.0.1:8000 and 0.0.0.0:8000',
    'request_id 3e7eb5b2-5116-4bae-ac41-b4810883ecee',
    'card-like but fails Luhn: 4111 1111 1111 1112',
    'order number 1234567890123',
    'DE89 3704 0044 0532 0130 02 (IBAN checksum wrong, digits fail Luhn too)',
    'Bearer authentication failed',
    'sha256 48eac26399f8456935f81dd9e3a745c1430adb6c62e233ccfe22db4a0d15d1d1',
    'model "sentiment" version "1" batch 32 queue 1024',
    'loopback ::1 is fine',
    'ratio 0.9995373459253651 and count 1000000',
  ])('%s', (input) => {
    expect(scrubPII(input)).toBe(input);
  });
});

describe('scrubPII: rules skipped by the shape of the text', () => {
  // Every rule applied to every string, as scrubPII did before it looked at the shape first.
  const exhaustive = (text: string) =>
    RULES.reduce((out, rule) => out.replace(rule.pattern, (m) => (rule.accept && !rule.accept(m) ? m : rule.replace ? rule.replace(m) : `<${rule.entity}>`)), text);

  // Seeded, so a failure can be replayed: PII fragments, near misses and noise glued together.
  let seed = 12345;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const pick = <T,>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const FRAGMENTS = [
    'jane.doe+news@example.co.uk', 'a@b.io', '4111 1111 1111 1111', '5500-0000-0000-0004', '378282246310005', '4111 1111 1111 1112',
    '+44 20 7946 0958', '+1 (415) 555-2671', '(415) 555-2671', '415-555-2671', '203.0.113.42', '10.1.2.3', '127.0.0.1', '::1',
    '2001:db8::8a2e:370:7334', 'fe80::1', 'DE89 3704 0044 0532 0130 00', 'GB82WEST12345698765432', 'Bearer eyJhbGciOiJIUzI1NiJ9.abc123',
    'Bearer authentication', 'hf_AbCdEfGhIjKlMnOpQrStUvWxYz0123', 'sk-proj-1234567890abcdefABCDEF', '3e7eb5b2-5116-4bae-ac41-b4810883ecee',
    '12345678-1234-1234-1234-123456789012', '2026-11-21T11:09:03.123Z', '11:09:03', 'v20.18.1', '/v1/models/:name/predict', 'ratio 0.9995',
  ];
  const NOISE = 'abcXYZ0123456789 .:-+@_()/<>';
  const randomText = () => {
    let text = '';
    const parts = 1 + Math.floor(random() * 4);
    for (let p = 0; p < parts; p++) {
      if (random() < 0.6) text += pick(FRAGMENTS);
      for (let n = Math.floor(random() * 12); n > 0; n--) text += pick(NOISE.split(''));
    }
    return text;
  };

  const isUuid = (text: string) => /^[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$/i.test(text);

  it('answers exactly what applying every rule answers', () => {
    for (let i = 0; i < 20_000; i++) {
      const text = randomText();
      if (!isUuid(text)) expect(scrubPII(text), text).toBe(exhaustive(text));
    }
  });

  it('leaves a string that is one UUID alone, even one whose digits pass the Luhn check', () => {
    const id = '44668003-2480-4493-8049-066260172574';
    expect(exhaustive(id)).not.toBe(id);
    expect(scrubPII(id)).toBe(id);
  });

  it('still finds each kind of PII inside longer text', () => {
    for (const fragment of FRAGMENTS) {
      const text = `x ${fragment} y 42`;
      expect(scrubPII(text), text).toBe(exhaustive(text));
    }
  });
});

describe('checksums', () => {
  it('Luhn', () => {
    expect(luhnValid('4111111111111111')).toBe(true);
    expect(luhnValid('4111111111111112')).toBe(false);
    expect(luhnValid('4111')).toBe(false);
  });
  it('IBAN mod 97', () => {
    expect(ibanValid('DE89370400440532013000')).toBe(true);
    expect(ibanValid('DE89370400440532013001')).toBe(false);
    expect(ibanValid('GB82 WEST 1234 5698 7654 32')).toBe(true);
  });
});

describe('scrubValue', () => {
  it('walks objects and arrays, and returns the same object when nothing changed', () => {
    const clean = { model: 'spam', version: '1', n: 3, nested: { ok: ['a', 'b'] } };
    expect(scrubValue(clean)).toBe(clean);
    const dirty = { user: { email: 'bob@example.com' }, list: ['fine', 'ip 203.0.113.9'], n: 4111111111111111 };
    expect(scrubValue(dirty)).toEqual({ user: { email: '<EMAIL_ADDRESS>' }, list: ['fine', 'ip <IP_ADDRESS>'], n: 4111111111111111 });
    expect(dirty.user.email).toBe('bob@example.com'); // the caller's object is not modified
  });

  it('turns errors into plain objects with a scrubbed message and stack', () => {
    const error = Object.assign(new Error('no user bob@example.com'), { code: 'E_USER' });
    const out = scrubValue(error) as Record<string, string>;
    expect(out.type).toBe('Error');
    expect(out.message).toBe('no user <EMAIL_ADDRESS>');
    expect(out.stack).not.toContain('bob@example.com');
    expect(out.code).toBe('E_USER');
  });
});

describe('the logger scrubs every line', () => {
  function capture() {
    const lines: Record<string, unknown>[] = [];
    const destination = new Writable({
      write(chunk, _enc, done) {
        for (const line of String(chunk).split('\n')) if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    return { logger: createLogger({ level: 'info', destination }), lines };
  }

  it('string fields, nested fields, the message and interpolation arguments', () => {
    const { logger, lines } = capture();
    logger.info({ user: 'alice@example.org', req: { remoteAddress: '198.51.100.23' }, version: '1.30.0' }, 'signup from %s', '+49 30 901820 12');
    logger.warn('payment with 4111-1111-1111-1111 refused');
    expect(lines[0]).toMatchObject({ user: '<EMAIL_ADDRESS>', req: { remoteAddress: '<IP_ADDRESS>' }, version: '1.30.0', msg: 'signup from <PHONE_NUMBER>' });
    expect(lines[1]!.msg).toBe('payment with <CREDIT_CARD> refused');
  });

  it('errors logged alone or under err keep a scrubbed message', () => {
    const { logger, lines } = capture();
    logger.error(new Error('upstream said: token hf_AbCdEfGhIjKlMnOpQrStUvWxYz0123 is invalid'));
    logger.error({ err: new Error('mail to eve@example.net bounced') });
    const text = JSON.stringify(lines);
    expect(text).not.toContain('hf_AbCd');
    expect(text).not.toContain('eve@example.net');
    expect(lines[0]!.msg).toBe('upstream said: token <HF_TOKEN> is invalid');
    expect((lines[0]!.err as { message: string }).message).toBe('upstream said: token <HF_TOKEN> is invalid');
    expect(lines[1]!.msg).toBe('mail to <EMAIL_ADDRESS> bounced');
  });

  it('key-based redaction still applies', () => {
    const { logger, lines } = capture();
    logger.info({ req: { headers: { authorization: 'Bearer abc' } }, token: 'secret' }, 'x');
    expect(lines[0]).toMatchObject({ req: { headers: { authorization: '[redacted]' } }, token: '[redacted]' });
  });

  it('secret keys are redacted at any depth, in plain objects and class instances', () => {
    const { logger, lines } = capture();
    class Settings {
      constructor(readonly apiKey: string) {}
    }
    logger.info({ config: { hfToken: 'abc', nested: { deeper: { adminToken: 'def' } } }, upstream: new Settings('ghi'), tokens: 3 }, 'x');
    expect(lines[0]).toMatchObject({ config: { hfToken: '[redacted]', nested: { deeper: { adminToken: '[redacted]' } } }, upstream: { apiKey: '[redacted]' }, tokens: 3 });
    expect(JSON.stringify(lines[0])).not.toMatch(/abc|def|ghi/);
  });

  it("a child logger's bindings are scrubbed too (a request id a client chose)", () => {
    const { logger, lines } = capture();
    logger.child({ request_id: '203.0.113.9' }).info({ status: 200 }, 'request');
    logger.child({ component: 'x' }).child({ peer: { email: 'eve@example.net' } }).info('nested');
    expect(lines[0]).toMatchObject({ request_id: '<IP_ADDRESS>', status: 200, msg: 'request' });
    expect(lines[1]).toMatchObject({ component: 'x', peer: { email: '<EMAIL_ADDRESS>' }, msg: 'nested' });
  });
});
