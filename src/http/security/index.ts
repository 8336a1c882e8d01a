import type { FastifyInstance, onRequestHookHandler, preHandlerHookHandler, RouteOptions } from 'fastify';
import type { Logger } from '../../observability/logger.js';
import { registerCors } from './cors.js';
import { feedbackGuard, FEEDBACK_TOKEN_ENV } from './feedback-guard.js';
import { setSecurityHeaders } from './headers.js';
import { hostAllowlist, refuseMisdirected } from './host-allowlist.js';
import { isStateChanging } from './state-changing.js';

/**
 * The server's browser-facing and abuse controls, as hooks on the root instance, so route
 * plugins need not know about them (docs/security.md says what each one stops):
 * Host allowlist (421), security headers, CORS (off unless configured), JSON-only bodies on
 * state-changing routes (415), and the feedback token and per-client rate limit. The admin
 * token guards its routes where they are declared (admin-auth.ts).
 */

export interface SecuritySettings {
  /** The address the server binds: the Host allowlist's default depends on it. */
  boundHost: string;
  /** `--allowed-hosts`; undefined: the default for boundHost. */
  allowedHosts?: string[];
  /** `--cors-origin`; empty: CORS off. */
  corsOrigins: string[];
  /** `VIGIL_FEEDBACK_TOKEN`; undefined: feedback needs no token. */
  feedbackToken?: string;
  /** Labels a minute per client on POST /v1/feedback; 0: no limit. */
  feedbackRateLimit: number;
}

export interface SecurityHooks {
  /** Counts a refused feedback request (vigil_feedback_rejected_total{reason}). */
  feedbackRejected?: (reason: 'unauthorized' | 'rate_limited') => void;
}

const asList = <T>(hook: T | T[] | undefined): T[] => (hook === undefined ? [] : Array.isArray(hook) ? hook : [hook]);

export function registerSecurity(app: FastifyInstance, settings: SecuritySettings, logger: Logger, hooks: SecurityHooks = {}): void {
  const hosts = hostAllowlist(settings.allowedHosts, settings.boundHost);
  const checkHost = hosts.entries !== undefined;
  // One hook for both, on every request: a callback, no promise, no second dispatch.
  app.addHook('onRequest', (request, reply, done) => {
    if (checkHost && refuseMisdirected(hosts, request, reply)) return;
    setSecurityHeaders(request, reply);
    done();
  });
  registerCors(app, settings.corsOrigins);

  const feedback = feedbackGuard({ token: settings.feedbackToken, perMinute: settings.feedbackRateLimit, rejected: hooks.feedbackRejected });
  app.addHook('onRoute', (route: RouteOptions) => {
    if (!isStateChanging(route)) return;
    // JSON-only bodies: registerBodyPolicy (content-type.ts) puts these routes under its strict rule.
    if (route.url === '/v1/feedback') {
      // Appended: a route's own guard answers first.
      route.onRequest = [...asList(route.onRequest), feedback.authenticate] as onRequestHookHandler[];
      route.preHandler = [feedback.limit as preHandlerHookHandler, ...asList(route.preHandler)];
    }
  });

  logger.info(
    {
      allowed_hosts: hosts.entries ?? 'any',
      cors_origins: settings.corsOrigins.length > 0 ? settings.corsOrigins : 'off',
      feedback_token: settings.feedbackToken ? 'required' : 'not required',
      feedback_rate_limit_per_minute: settings.feedbackRateLimit || 'off',
    },
    'security settings',
  );
  if (hosts.entries === undefined && settings.allowedHosts === undefined) {
    logger.warn(`bound to ${settings.boundHost}: any Host header is accepted; pass --allowed-hosts (VIGIL_ALLOWED_HOSTS) with the names clients use, to refuse DNS rebinding`);
  }
  if (!settings.feedbackToken) logger.info(`${FEEDBACK_TOKEN_ENV} is not set: anyone who reaches this port can send labels (POST /v1/feedback), within the per-client rate limit`);
}
