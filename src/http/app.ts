import { createServer } from 'node:http';
import { randomUUID } from 'node:crypto';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { ServerContext } from './context.js';
import { AllowedMethods } from './allowed-methods.js';
import { door } from './door.js';
import { registerBodyPolicy } from './content-type.js';
import { registerErrorHandlers } from './errors.js';
import { openApiOptions, useSchemasAsContract } from './schemas/openapi.js';
import { registerObservation, requestIdFrom } from './observe.js';
import { registerAdmission } from './admission-hook.js';
import { traceRequests } from '../observability/tracing.js';
import { UNMATCHED_ROUTE } from '../observability/metrics.js';
import { healthRoutes } from './routes/health.js';
import { metricsRoutes } from './routes/metrics.js';
import { monitorRoutes } from './routes/monitor.js';
import { modelRoutes } from './routes/models.js';
import { oipRoutes } from './routes/oip.js';
import { feedbackRoutes } from './routes/feedback.js';
import { routingRoutes } from './routes/routing.js';
import { uiRoutes } from './routes/ui.js';
import { registerSecurity } from './security/index.js';

/** The whole HTTP surface of one Vigil server, without listening yet. */
export async function buildApp(context: ServerContext): Promise<FastifyInstance> {
  const allowed = new AllowedMethods();
  const limits = context.limits;
  const app = Fastify({
    loggerInstance: context.logger as FastifyBaseLogger,
    // One line per request is written by registerObservation, with the route template.
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'request_id' }),
    bodyLimit: limits.bodyLimit,
    genReqId: (req) => requestIdFrom(req.headers['x-request-id'], randomUUID),
    // Node's server with the process bound in front of fastify (door.ts).
    // Slow and silent clients: headers and the whole request must arrive in time (Node answers
    // 408 and closes), and an idle keep-alive connection is closed. Node checks these every
    // connectionsCheckingInterval, so the interval bounds how late a timeout is noticed.
    serverFactory: (handler) => {
      const server = createServer(
        { headersTimeout: limits.headersTimeoutMs, connectionsCheckingInterval: Math.min(1000, Math.max(100, Math.round(limits.headersTimeoutMs / 4))) },
        door(context, allowed, handler),
      );
      server.requestTimeout = limits.requestTimeoutMs;
      server.keepAliveTimeout = limits.keepAliveTimeoutMs;
      return server;
    },
    // Shutdown closes idle connections itself, after giving them a chance to end cleanly
    // (src/http/drain.ts); requests arriving after the listener closed get admission-hook's 503.
    forceCloseConnections: 'idle',
    return503OnClosing: false,
    ajv: { customOptions: { allErrors: false, coerceTypes: false } },
  });

  allowed.register(app);
  registerErrorHandlers(app, context.limits.bodyLimit, context.shedLog, allowed);
  registerBodyPolicy(app);
  useSchemasAsContract(app);
  if (context.observe !== false) registerObservation(app, context);
  // First: refusing an overload must cost as little as possible.
  registerAdmission(app, context);
  // Before any route: its onRoute hook puts the state-changing routes under their rules.
  registerSecurity(app, context.security, context.logger, {
    feedbackRejected: (reason) => context.monitor?.quality.rejected.inc({ reason }),
  });
  traceRequests(app, UNMATCHED_ROUTE); // no-op unless OTEL_EXPORTER_OTLP_ENDPOINT is set

  await app.register(swagger, openApiOptions(context.version));
  await app.register(swaggerUi, { routePrefix: '/docs' });

  await app.register(async (scope) => healthRoutes(scope, context));
  await app.register(async (scope) => metricsRoutes(scope, context));
  await app.register(async (scope) => monitorRoutes(scope, context));
  await app.register(async (scope) => modelRoutes(scope, context));
  await app.register(async (scope) => oipRoutes(scope, context));
  await app.register(async (scope) => routingRoutes(scope, context));
  await app.register(async (scope) => feedbackRoutes(scope, context));
  await app.register(async (scope) => uiRoutes(scope, context));
  return app;
}
