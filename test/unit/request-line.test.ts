import { Writable } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/observability/logger.js';
import { isoTimeOfNow, requestLineWriter, type RequestLine } from '../../src/observability/request-line.js';

/** A logger from createLogger whose lines land in an array, as written. */
function capture(level = 'info') {
  const written: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n')) if (line !== '') written.push(line);
      done();
    },
  });
  return { logger: createLogger({ level, destination }), written };
}

/** The line pino writes for the same request, through the request's child logger as before. */
function throughPino(line: RequestLine): string {
  const { logger, written } = capture();
  const fields: Record<string, unknown> = { method: line.method, route: line.route, status: line.status, latency_ms: Number(line.latencyMs.toFixed(3)) };
  if (line.clientAborted) fields.client_aborted = true;
  logger.child({ request_id: line.requestId }).info(fields, 'request');
  return written[0]!;
}

const withoutTime = (line: string) => line.replace(/"time":"[^"]*"/, '"time":"T"');

// Request ids as clients may choose them (src/http/observe.ts), some shaped like personal data.
const requestId = fc.oneof(
  fc.uuid(),
  fc.stringMatching(/^[A-Za-z0-9._:-]{1,64}$/),
  fc.constantFrom('203.0.113.77', '2001:db8::7', 'hf_abcdefghijklmnopqrstu', '4111111111111111', 'a"b\\c'),
);
const requestLine: fc.Arbitrary<RequestLine> = fc.record(
  {
    requestId,
    method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'),
    route: fc.constantFrom('/predict', '/v1/models/:name/predict', '/v2/models/:name/infer', '(unmatched)', '/v1/feedback'),
    status: fc.constantFrom(200, 400, 404, 408, 413, 415, 429, 499, 500, 503),
    latencyMs: fc.double({ min: 0, max: 120_000, noNaN: true }),
    clientAborted: fc.boolean(),
  },
  { requiredKeys: ['requestId', 'method', 'route', 'status', 'latencyMs'] },
);

describe('the request log line', () => {
  it('is, byte for byte but the time, the line pino writes for the same request', () => {
    fc.assert(
      fc.property(requestLine, (line) => {
        const { logger, written } = capture();
        requestLineWriter(logger)(line, logger.child({ request_id: line.requestId }));
        expect(written).toHaveLength(1);
        expect(withoutTime(written[0]!)).toBe(withoutTime(throughPino(line)));
        expect(new Date((JSON.parse(written[0]!) as { time: string }).time).getTime()).toBeGreaterThan(Date.now() - 60_000);
      }),
      { numRuns: 500 },
    );
  });

  it('scrubs a request id that looks like personal data, as the child logger did', () => {
    const { logger, written } = capture();
    requestLineWriter(logger)({ requestId: '203.0.113.77', method: 'POST', route: '/predict', status: 200, latencyMs: 1.23456 }, logger.child({ request_id: '203.0.113.77' }));
    expect(JSON.parse(written[0]!)).toMatchObject({ request_id: '<IP_ADDRESS>', latency_ms: 1.235, msg: 'request' });
    expect(written[0]).not.toContain('203.0.113.77');
  });

  it('writes nothing below its level, and goes through pino for a logger of its own', () => {
    const quiet = capture('warn');
    requestLineWriter(quiet.logger)({ requestId: 'a', method: 'GET', route: '/alive', status: 200, latencyMs: 1 }, quiet.logger.child({ request_id: 'a' }));
    expect(quiet.written).toEqual([]);
    const other = capture();
    const child = other.logger.child({ request_id: 'b' });
    // Not a root from createLogger: no raw writer, so pino writes it.
    requestLineWriter(child)({ requestId: 'b', method: 'GET', route: '/alive', status: 200, latencyMs: 1 }, child);
    expect(JSON.parse(other.written[0]!)).toMatchObject({ request_id: 'b', route: '/alive', msg: 'request' });
  });
});

describe('the request line clock', () => {
  it('writes what toISOString writes, for any millisecond', () => {
    // Times near one another, so that many fall in the same second as the line before.
    const nearby = fc
      .tuple(fc.integer({ min: 2_000, max: 4_102_444_800_000 }), fc.array(fc.integer({ min: -1_500, max: 1_500 }), { minLength: 1, maxLength: 20 }))
      .map(([base, offsets]) => offsets.map((o) => base + o));
    fc.assert(
      fc.property(nearby, (times) => {
        let at = 0;
        const iso = isoTimeOfNow(() => times[at]!);
        for (at = 0; at < times.length; at++) expect(iso()).toBe(new Date(times[at]!).toISOString());
      }),
    );
  });
});
