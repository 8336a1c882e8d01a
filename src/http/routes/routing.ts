import type { FastifyInstance, FastifyRequest } from 'fastify';
import { parseRoutingChange } from '../../serving/routing-policy.js';
import { acceptEmptyJsonBodies, adminGuard, adminTokenFromEnv, warnIfUnprotected } from '../admin-auth.js';
import type { ServerContext } from '../context.js';
import { routing as schemas } from '../schemas/json-api.js';

/**
 * Release management at runtime (docs/releases.md): read a model's routing, change it, promote
 * the challenger, roll back. Changes take effect for the next request; requests already running
 * finish on the version they were given, and no version is loaded or unloaded here. Changing
 * routing needs the admin token (VIGIL_ADMIN_TOKEN); reading it does not, as /v1/models already
 * shows the versions and nothing in it is secret.
 */

type Params = { name: string };

export async function routingRoutes(app: FastifyInstance, context: ServerContext): Promise<void> {
  const { registry, logger } = context;
  const token = adminTokenFromEnv();
  warnIfUnprotected(token, logger, 'the routing API (PUT/PATCH /v1/models/{name}/routing, .../promote, .../rollback)');
  const admin = adminGuard(token);
  acceptEmptyJsonBodies(app);

  // The body schema only documents; parseRoutingChange checks it and names the bad field.
  const noValidation = { validatorCompiler: () => () => true };
  const describe = (name: string) => registry.routing.describe(name, registry.versions(name));
  const changed = (request: FastifyRequest<{ Params: Params }>, action: string, extra: Record<string, unknown> = {}) => {
    const routing = describe(request.params.name);
    // Who changed what, for the audit trail; the token is never part of it.
    request.log.info({ model: request.params.name, action, routing: { ...routing, versions: undefined }, ...extra }, 'routing changed');
    return { ...routing, ...extra };
  };

  app.get<{ Params: Params }>(
    '/v1/models/:name/routing',
    { schema: schemas.get },
    async (request) => describe(request.params.name),
  );

  const change = (replace: boolean) => async (request: FastifyRequest<{ Params: Params }>) => {
    const { name } = request.params;
    const versions = registry.versions(name);
    registry.routing.change(name, versions, parseRoutingChange(request.body), { replace });
    return changed(request, replace ? 'replace' : 'update');
  };
  app.put<{ Params: Params }>(
    '/v1/models/:name/routing',
    { schema: schemas.put, onRequest: admin, ...noValidation },
    change(true),
  );
  app.patch<{ Params: Params }>(
    '/v1/models/:name/routing',
    { schema: schemas.patch, onRequest: admin, ...noValidation },
    change(false),
  );

  app.post<{ Params: Params }>(
    '/v1/models/:name/routing/promote',
    { schema: schemas.promote, onRequest: admin, ...noValidation },
    async (request) => {
      const { name } = request.params;
      registry.routing.promote(name, registry.versions(name));
      return changed(request, 'promote');
    },
  );
  app.post<{ Params: Params }>(
    '/v1/models/:name/routing/rollback',
    { schema: schemas.rollback, onRequest: admin, ...noValidation },
    async (request) => {
      const { name } = request.params;
      const { undid } = registry.routing.rollback(name, registry.versions(name));
      return changed(request, 'rollback', { rolled_back: undid });
    },
  );
}
