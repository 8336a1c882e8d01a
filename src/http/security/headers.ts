import { createHash } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';

/**
 * Browser protections. Pages (the playground, /docs, anything not under an API path) get the
 * full set: the playground loads only its own files (no inline script or style, no other
 * origin), so its policy needs no `unsafe-inline`; images may be data: and blob: URLs (Swagger
 * UI's icons, the digits canvas). API answers are JSON or text that no browser renders: they get
 * `nosniff`, which keeps one from being read as HTML or script, and not the rest, which only
 * pages use and which would cost every prediction ~300 bytes of headers.
 */

const directives = (styleSources: string) =>
  [
    "default-src 'self'",
    "script-src 'self'",
    `style-src ${styleSources}`,
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');

export const CONTENT_SECURITY_POLICY = directives("'self'");

/**
 * Swagger UI's top bar draws its logo as an inline SVG with one <style> element; that exact
 * text, by its hash, is the only inline style /docs allows (test/e2e/security.test.ts fails on
 * any other, e.g. after a Swagger UI upgrade changes the logo).
 */
export const SWAGGER_LOGO_STYLE = '.logo_small_svg__cls-2{fill:#fff}.logo_small_svg__cls-3{fill:#85ea2d}';
const styleHash = (text: string) => `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;
export const DOCS_CONTENT_SECURITY_POLICY = directives(`'self' ${styleHash(SWAGGER_LOGO_STYLE)}`);

const COMMON_HEADERS: Readonly<Record<string, string>> = {
  'x-content-type-options': 'nosniff',
  // frame-ancestors for browsers that read CSP, X-Frame-Options for those that do not.
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
};

export const SECURITY_HEADERS: Readonly<Record<string, string>> = { 'content-security-policy': CONTENT_SECURITY_POLICY, ...COMMON_HEADERS };
const DOCS_HEADERS: Readonly<Record<string, string>> = { 'content-security-policy': DOCS_CONTENT_SECURITY_POLICY, ...COMMON_HEADERS };

const isDocs = (url: string) => url === '/docs' || url.startsWith('/docs/') || url.startsWith('/docs?');

/** Paths whose answers are API documents (JSON, Prometheus text, SSE), never pages. */
const API_PATH = /^\/(v1\/|v2(\/|\?|$)|predict(\?|$)|metrics(\?|$)|alive(\?|$)|ready(\?|$)|health(\?|$))/;
export const isApiPath = (url: string): boolean => API_PATH.test(url);

export function setSecurityHeaders(request: FastifyRequest, reply: FastifyReply): void {
  const url = request.url;
  if (isApiPath(url)) void reply.header('x-content-type-options', 'nosniff');
  else void reply.headers(isDocs(url) ? DOCS_HEADERS : SECURITY_HEADERS);
}
