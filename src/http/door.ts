import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import { UNMATCHED_ROUTE } from '../observability/metrics.js';
import type { StandingRefusal } from '../errors.js';
import type { Refusal } from '../serving/admission.js';
import type { AllowedMethods } from './allowed-methods.js';
import type { ServerContext } from './context.js';
import { errorBody } from './errors.js';
import { requestIdFrom } from './observe.js';

/**
 * The process bound (--max-in-flight), checked on Node's own request event, before fastify
 * makes its request, reply and child logger: past the bound the 503 is written here. So is a
 * model's (--max-in-flight-per-model) when the path names a model already at it; its slot is
 * still taken in fastify, once the body is in (admission-hook.ts). A refusal
 * that went through fastify's lifecycle cost about twice what Node's HTTP stack alone costs
 * for the same answer (bench/refusal-cost.mjs), and under an open-loop overload every
 * microsecond a refusal costs is taken from the requests that are served: at three times
 * capacity a server whose refusals cost a third of a prediction serves none.
 *
 * The answer is the one the fastify path gives (same status, headers, JSON body by protocol),
 * counted in the same metrics (http_requests_total by route template, vigil_shed_total) and
 * summed up in the shed log line. Health, readiness and metrics are never behind the bound.
 * An admitted request holds its slot until its response closes, answered or abandoned.
 *
 * A remote model whose circuit is open is answered here as well (503 circuit_open, Retry-After
 * until the cooldown ends), when nothing else could answer the request: the path reaches the
 * model's only version, that version has no fallback, and its task cannot stream (whether a
 * request streams is in its body, and a stream's refusal is an event stream). Through fastify,
 * a client hammering an open circuit cost the server thread ~41-54 µs per refusal against
 * ~33-35 for a 404 (here ~16), and took that much more from the local models beside it
 * (bench/circuit-refusal-cost.mjs, docs/reliability.md). Such a
 * refusal is not paced (refusal-pause.ts): the server is not overloaded, and the connection's
 * next request may be for a model that answers.
 */

/**
 * Health and metrics are never behind the in-flight bounds: an orchestrator must be able to
 * see a saturated server as alive (and a scraper see why it is saturated). Exact paths, which
 * are also their route templates (no parameters).
 */
export const UNBOUNDED_PATHS: ReadonlySet<string> = new Set(['/alive', '/ready', '/health', '/metrics', '/v2/health/live', '/v2/health/ready']);

/** The model (and version) an inference path names: /v1/models/NAME/predict, /v2/models/NAME[/versions/V]/infer. */
const INFERENCE_PATH = /^\/v[12]\/models\/([^/]+)\/(?:versions\/([^/]+)\/)?(?:predict|infer)$/;

interface InferenceTarget {
  model: string;
  /** As the path spells it, still percent-encoded; undefined when the path names none. */
  version?: string;
}

type Handler = (request: IncomingMessage, response: ServerResponse) => void;

export function door(context: ServerContext, routes: AllowedMethods, next: Handler): Handler {
  const { admission, metrics, shedLog, registry, lifecycle, refusalPause } = context;

  function targetOf(method: string | undefined, path: string): InferenceTarget | undefined {
    if (method !== 'POST') return undefined;
    if (path === '/predict') {
      const model = registry.defaultModelName;
      return model === undefined ? undefined : { model };
    }
    const match = INFERENCE_PATH.exec(path);
    if (!match) return undefined;
    let name: string;
    try {
      name = decodeURIComponent(match[1]!);
    } catch {
      return undefined;
    }
    // Only served models become label values: the name comes from the request.
    return registry.has(name) ? { model: name, version: match[2] } : undefined;
  }

  /** An open circuit's answer, when the request could reach nothing else (see the file's comment). */
  function standingRefusalFor({ model, version }: InferenceTarget): StandingRefusal | undefined {
    const only = registry.soleVersion(model);
    if (!only || only.canStream || (version !== undefined && version !== only.version)) return undefined;
    return only.standingRefusal();
  }

  /** Writes a 503 with Retry-After as the fastify path would, and counts it as an HTTP answer. */
  function answer503(request: IncomingMessage, response: ServerResponse, path: string, code: string, message: string, retryAfterSeconds: number): void {
    const started = performance.now();
    const requestId = requestIdFrom(request.headers['x-request-id'], randomUUID);
    const body = JSON.stringify(errorBody(path, code, message, requestId));
    const headers: Record<string, string | number> = {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(body),
      'retry-after': String(retryAfterSeconds),
      'x-request-id': requestId,
      'x-content-type-options': 'nosniff',
    };
    if (lifecycle.draining) headers.connection = 'close';
    response.writeHead(503, headers);
    response.end(body);
    const method = request.method ?? 'GET';
    const series = metrics.httpSeries(method, routes.templateOf(method, path) ?? UNMATCHED_ROUTE, '503');
    series.count();
    series.observe((performance.now() - started) / 1000);
  }

  function refuse(request: IncomingMessage, response: ServerResponse, path: string, model: string | undefined, refusal: Refusal): void {
    metrics.shed.inc({ model: model ?? '', version: '', reason: refusal.reason });
    shedLog.record(refusal.reason, model);
    answer503(request, response, path, 'overloaded', refusal.message, refusal.retryAfterSeconds);
    refusalPause.afterRefusal(response, refusal.retryAfterSeconds);
  }

  return (request, response) => {
    const url = request.url ?? '/';
    const query = url.indexOf('?');
    const path = query === -1 ? url : url.slice(0, query);
    // Shutting down is answered by fastify (admission-hook.ts): rare, and it needs the route.
    if (UNBOUNDED_PATHS.has(path) || lifecycle.closing) return next(request, response);
    // A model already at its bound is refused here too: its refusal then costs what the process
    // bound's does, not a trip through fastify's body parsing and routing (about 1.5x as much).
    const target = targetOf(request.method, path);
    const model = target?.model;
    const standing = target && standingRefusalFor(target);
    if (standing) {
      // Summed up like the fastify path's circuit refusals (errors.ts); no shed count, no pause.
      shedLog.record(standing.code, model);
      return answer503(request, response, path, standing.code, standing.message, standing.retryAfterSeconds);
    }
    const refusal = (model !== undefined ? admission.modelRefusal(model) : undefined) ?? admission.admitServer();
    if (refusal) return refuse(request, response, path, model, refusal);
    // 'close' follows the end of the response, and also comes alone when the client leaves first.
    response.once('close', () => admission.releaseServer());
    next(request, response);
  };
}
