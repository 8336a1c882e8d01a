import type { FastifyInstance } from 'fastify';
import { UNMATCHED_ROUTE } from '../observability/metrics.js';
import { requestLineWriter } from '../observability/request-line.js';
import type { ServerContext } from './context.js';

const ANSWERED = 'vigilAnswered';

declare module 'fastify' {
  interface FastifyRequest {
    [ANSWERED]: boolean;
  }
}

/** Request ids a client may choose: short and safe to put in logs and headers. */
const CLIENT_REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;

export function requestIdFrom(header: string | string[] | undefined, fallback: () => string): string {
  return typeof header === 'string' && CLIENT_REQUEST_ID.test(header) ? header : fallback();
}

/**
 * Traffic, errors and latency of every request, labelled by route template (never the raw
 * path), and one structured log line per request. Bodies are never logged.
 */
export function registerObservation(app: FastifyInstance, context: ServerContext): void {
  const { metrics } = context;
  const logRequest = requestLineWriter(context.logger);
  // The request path's routes (every POST: predictions, inference, feedback, repository calls)
  // have their 5xx series from the start; see declareServerErrors.
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    if (methods.includes('POST')) metrics.declareServerErrors('POST', route.url);
  });
  // Set when onResponse ran; a request whose response closes without it was abandoned mid-response.
  app.decorateRequest(ANSWERED, false);
  // Callback hooks rather than async ones: no promise per hook per request.
  app.addHook('onRequest', (request, reply, done) => {
    metrics.httpInFlight.inc();
    void reply.header('x-request-id', request.id);
    // A client that leaves in the middle of a response (a stream it stops reading) gets no
    // onResponse from fastify: count it here, as 499 (nginx's "client closed request"), so
    // in-flight returns to zero and the request is not invisible.
    reply.raw.once('close', () => {
      if (request[ANSWERED] || reply.raw.writableFinished) return;
      metrics.httpInFlight.dec();
      const route = request.routeOptions.url ?? UNMATCHED_ROUTE;
      const series = metrics.httpSeries(request.method, route, '499');
      series.count();
      series.observe(reply.elapsedTime / 1000);
      logRequest({ requestId: request.id, method: request.method, route, status: 499, latencyMs: reply.elapsedTime, clientAborted: true }, request.log);
    });
    done();
  });
  app.addHook('onResponse', (request, reply, done) => {
    request[ANSWERED] = true;
    metrics.httpInFlight.dec();
    const route = request.routeOptions.url ?? UNMATCHED_ROUTE;
    const series = metrics.httpSeries(request.method, route, String(reply.statusCode));
    series.count();
    series.observe(reply.elapsedTime / 1000);
    // Refused at the door (admission-hook.ts): counted above, summed up in the shed log's line.
    if (request.vigilShed) {
      done();
      return;
    }
    logRequest({ requestId: request.id, method: request.method, route, status: reply.statusCode, latencyMs: reply.elapsedTime }, request.log);
    done();
  });
}
