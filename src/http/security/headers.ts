import { createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';

/**
 * Browser protections on every response. The playground loads only its own files (no inline
 * script or style, no other origin), so its policy needs no `unsafe-inline`; JSON answers get
 * the same headers, which cost nothing and keep a browser from sniffing one into HTML. Images
 * may be data: and blob: URLs (Swagger UI's icons, the digits canvas).
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

export function registerSecurityHeaders(app: FastifyInstance): void {
  app.addHook('onRequest', (request, reply, done) => {
    void reply.headers(isDocs(request.url) ? DOCS_HEADERS : SECURITY_HEADERS);
    done();
  });
}
