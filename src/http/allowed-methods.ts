import type { FastifyInstance, RouteOptions } from 'fastify';

/**
 * The methods each registered path answers, so a request with a wrong method on a known path
 * gets 405 with `Allow` (RFC 9110 15.5.6) instead of a 404 that says the path does not exist.
 * Fastify's router only knows "no route for this method and path"; this keeps the templates as
 * routes are added and matches a path against them when that happens.
 */
export class AllowedMethods {
  private readonly routes: { template: string; pattern: RegExp; methods: Set<string> }[] = [];
  private readonly byTemplate = new Map<string, Set<string>>();

  add(route: Pick<RouteOptions, 'method' | 'url'>): void {
    let methods = this.byTemplate.get(route.url);
    if (!methods) {
      methods = new Set();
      this.byTemplate.set(route.url, methods);
      this.routes.push({ template: route.url, pattern: templatePattern(route.url), methods });
    }
    for (const method of Array.isArray(route.method) ? route.method : [route.method]) methods.add(method.toUpperCase());
  }

  /**
   * The template of the route that answers this method on this path (no query), as fastify
   * would pick it: a static path, then a parametric one, then a wildcard. Undefined: no route has it.
   */
  templateOf(method: string, path: string): string | undefined {
    if (this.byTemplate.get(path)?.has(method)) return path;
    let wildcard: string | undefined;
    for (const route of this.routes) {
      if (!route.methods.has(method) || !route.pattern.test(path)) continue;
      if (!route.template.includes('*')) return route.template;
      wildcard ??= route.template;
    }
    return wildcard;
  }

  /** The methods some route answers for this path (no query), sorted; empty: no route has it. */
  of(path: string): string[] {
    const found = new Set<string>();
    for (const route of this.routes) if (route.pattern.test(path)) for (const method of route.methods) found.add(method);
    return [...found].sort();
  }

  register(app: FastifyInstance): void {
    app.addHook('onRoute', (route) => this.add(route));
  }
}

/** `/v2/models/:name/infer` -> /^\/v2\/models\/[^/]+\/infer$/; `*` matches the rest of the path. */
function templatePattern(template: string): RegExp {
  const source = template
    .split(/(:[A-Za-z0-9_]+(?:\([^)]*\))?|\*)/)
    .map((part) => (part === '*' ? '.*' : part.startsWith(':') ? '[^/]+' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('');
  return new RegExp(`^${source}$`);
}
