import type { FastifyReply, FastifyRequest } from 'fastify';
import { sendError } from '../errors.js';
import { bearerToken, tokenMatches } from '../admin-auth.js';
import { ClientRateLimiter } from './rate-limit.js';

/**
 * Who may send delayed labels (POST /v1/feedback), and how fast. Labels set the vigil_online_*
 * gauges the quality alerts fire on, so a stranger's wrong labels are an attack on alerting:
 *
 * - `VIGIL_FEEDBACK_TOKEN`, when set, is required as `Authorization: Bearer <token>`. It is not
 *   the admin token: a labelling system must not be able to unload models, nor an operator's
 *   token be spread to every labelling job.
 * - Each client (by address) may send `perMinute` labels a minute (a batch counts each item);
 *   past it 429 with Retry-After. 0 turns the limit off.
 */

export const FEEDBACK_TOKEN_ENV = 'VIGIL_FEEDBACK_TOKEN';
export const DEFAULT_FEEDBACK_RATE_LIMIT = 1200;

export interface FeedbackGuardOptions {
  token: string | undefined;
  perMinute: number;
  /** Counts refusals (vigil_feedback_rejected_total{reason}). */
  rejected?: (reason: 'unauthorized' | 'rate_limited') => void;
  now?: () => number;
}

export interface FeedbackGuard {
  /** onRequest: the token, before the body is read. */
  authenticate(request: FastifyRequest, reply: FastifyReply, done: () => void): void;
  /** preHandler: the rate limit, once the body says how many labels it carries. */
  limit(request: FastifyRequest, reply: FastifyReply, done: () => void): void;
}

/** Labels in a feedback body: the items of a batch, else one. */
function labelCount(body: unknown): number {
  const list = typeof body === 'object' && body !== null ? (body as { feedback?: unknown }).feedback : undefined;
  return Array.isArray(list) ? Math.max(1, list.length) : 1;
}

export function feedbackGuard(options: FeedbackGuardOptions): FeedbackGuard {
  const { token, perMinute } = options;
  const limiter = perMinute > 0 ? new ClientRateLimiter(perMinute, options.now) : undefined;
  return {
    authenticate(request, reply, done) {
      if (!token) return done();
      const presented = bearerToken(request.headers.authorization);
      if (presented !== undefined && tokenMatches(presented, token)) return done();
      options.rejected?.('unauthorized');
      void reply.header('www-authenticate', 'Bearer realm="vigil-feedback"');
      void sendError(
        request,
        reply,
        401,
        'unauthorized',
        presented === undefined ? `feedback needs "Authorization: Bearer <token>" with the server's feedback token (${FEEDBACK_TOKEN_ENV})` : 'the feedback token is wrong',
      );
    },
    limit(request, reply, done) {
      if (!limiter) return done();
      const labels = labelCount(request.body);
      if (labels > perMinute) {
        options.rejected?.('rate_limited');
        void sendError(request, reply, 400, 'too_many_inputs', `this request carries ${labels} labels; a client may send at most ${perMinute} a minute (--feedback-rate-limit): send smaller batches`);
        return;
      }
      const wait = limiter.take(request.ip, labels);
      if (wait === 0) return done();
      options.rejected?.('rate_limited');
      void reply.header('retry-after', String(wait));
      void sendError(request, reply, 429, 'rate_limited', `too many labels from this client: at most ${perMinute} a minute (--feedback-rate-limit); retry in ${wait} s`);
    },
  };
}
