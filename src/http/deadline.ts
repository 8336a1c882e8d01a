import type { FastifyRequest } from 'fastify';
import { InvalidInput } from '../errors.js';

/** Per-request deadline (docs/performance.md): header `x-vigil-timeout-ms` and/or body `timeout_ms`; the smaller wins. */
export const TIMEOUT_HEADER = 'x-vigil-timeout-ms';
const MAX_TIMEOUT_MS = 600_000;

function checkTimeout(raw: unknown, where: string): number {
  const value = typeof raw === 'string' && /^\s*\d+\s*$/.test(raw) ? Number(raw) : raw;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > MAX_TIMEOUT_MS) {
    throw new InvalidInput(`${where} must be a whole number of milliseconds from 0 to ${MAX_TIMEOUT_MS}, got ${JSON.stringify(raw)}`, 'invalid_timeout');
  }
  return value;
}

/** The caller's deadline for waiting in the queue; past it the request is answered 504 unrun. */
export function requestTimeoutMs(request: FastifyRequest): number | undefined {
  const found: number[] = [];
  const header = request.headers[TIMEOUT_HEADER];
  if (header !== undefined) found.push(checkTimeout(Array.isArray(header) ? header.join(',') : header, `header ${TIMEOUT_HEADER}`));
  const body = request.body;
  if (typeof body === 'object' && body !== null && 'timeout_ms' in body) found.push(checkTimeout((body as { timeout_ms: unknown }).timeout_ms, '"timeout_ms"'));
  return found.length > 0 ? Math.min(...found) : undefined;
}
