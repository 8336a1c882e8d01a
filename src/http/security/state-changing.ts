import type { RouteOptions } from 'fastify';
import { bodyPolicyOf } from '../content-type.js';

/**
 * The endpoints that change what the server serves or what it measures: the model repository
 * (index included, as Triton makes it a POST), every routing change, and delayed labels. Which
 * bodies they take is decided with every other route's in src/http/content-type.ts (declared
 * non-JSON types, the CORS-"simple" ones among them, are refused with 415 before the body is
 * read); this says which routes they are, for the guards that only they get (the feedback token
 * and rate limit).
 */

/** Route option a plugin sets to put a new route under this rule: `config: { stateChanging: true }`. */
export interface StateChangingConfig {
  stateChanging?: boolean;
}

export function isStateChanging(route: Pick<RouteOptions, 'method' | 'url' | 'config'>): boolean {
  if ((route.config as StateChangingConfig | undefined)?.stateChanging === true) return true;
  const methods = Array.isArray(route.method) ? route.method : [route.method];
  return methods.some((method) => {
    const policy = bodyPolicyOf(method, route.url);
    return policy === 'state-changing' || policy === 'oip-repository';
  });
}
