import { isIP } from 'node:net';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { sendError } from '../errors.js';

/**
 * The Host names this server answers to. A page that rebinds its own DNS name to 127.0.0.1
 * (DNS rebinding) reaches a local server as if it were same-origin, but its requests still
 * carry the attacker's name in `Host`: refusing unknown names closes that door. IP literals are
 * always accepted, since rebinding needs a name and probes and scrapers often address by IP.
 *
 * Entries: `example.com` (exactly), `.example.com` or `*.example.com` (it and its subdomains),
 * `*` (any name: the check is off).
 */

export const LOOPBACK_ALLOWED_HOSTS = ['localhost', '.localhost'];
const MAX_REMEMBERED_HOSTS = 256;

export interface HostAllowlist {
  /** Undefined: any name. */
  readonly entries: readonly string[] | undefined;
  allows(hostHeader: string | undefined): boolean;
}

/** The name part of a Host header: lower case, without port, brackets or the root's trailing dot. */
export function hostName(header: string): string {
  let name = header.trim().toLowerCase();
  if (name.startsWith('[')) {
    const end = name.indexOf(']');
    return end > 0 ? name.slice(1, end) : name;
  }
  const colon = name.indexOf(':');
  if (colon >= 0 && name.indexOf(':', colon + 1) < 0) name = name.slice(0, colon);
  return name.endsWith('.') ? name.slice(0, -1) : name;
}

export function isLoopbackAddress(host: string): boolean {
  const name = hostName(host);
  return name === 'localhost' || name === '::1' || (isIP(name) === 4 && name.startsWith('127.'));
}

/** Entries as given (`--allowed-hosts a.example,.b.example`), checked; `*` anywhere turns the check off. */
export function parseAllowedHosts(raw: readonly string[]): string[] {
  const entries = raw.flatMap((item) => item.split(',')).map((item) => item.trim().toLowerCase()).filter(Boolean);
  for (const entry of entries) {
    if (entry === '*') continue;
    const name = entry.replace(/^\*?\./, '');
    if (!/^[a-z0-9_-]+(\.[a-z0-9_-]+)*\.?$/.test(name)) throw new Error(`"${entry}" is not a host name (use example.com, .example.com for its subdomains too, or *)`);
  }
  return entries;
}

/**
 * The allowlist in force: the configured entries; unset, the loopback names when the server
 * is bound to loopback (nothing else can reach it by name), and any name otherwise (the
 * operator's network decides the names: service DNS, load balancers).
 */
export function hostAllowlist(configured: readonly string[] | undefined, boundHost: string): HostAllowlist {
  const entries = configured ?? (isLoopbackAddress(boundHost) ? LOOPBACK_ALLOWED_HOSTS : undefined);
  if (entries === undefined || entries.includes('*')) return { entries: undefined, allows: () => true };
  const exact = new Set<string>();
  const suffixes: string[] = [];
  for (const entry of entries) {
    const name = entry.endsWith('.') ? entry.slice(0, -1) : entry;
    if (name.startsWith('*.') || name.startsWith('.')) {
      const base = name.replace(/^\*?\./, '');
      exact.add(base);
      suffixes.push(`.${base}`);
    } else exact.add(name);
  }
  const check = (header: string) => {
    const name = hostName(header);
    return isIP(name) !== 0 || exact.has(name) || suffixes.some((suffix) => name.endsWith(suffix));
  };
  // Clients send the same few Host headers over and over: remember the verdicts, boundedly.
  const verdicts = new Map<string, boolean>();
  return {
    entries,
    allows(header) {
      if (!header) return false;
      let verdict = verdicts.get(header);
      if (verdict === undefined) {
        verdict = check(header);
        if (verdicts.size >= MAX_REMEMBERED_HOSTS) verdicts.clear();
        verdicts.set(header, verdict);
      }
      return verdict;
    },
  };
}

/**
 * Answers 421 to a request whose Host is not on the list and says so (true); the caller's
 * onRequest hook then stops. Runs before anything else reads the request.
 */
export function refuseMisdirected(allowlist: HostAllowlist, request: FastifyRequest, reply: FastifyReply): boolean {
  const host = request.headers.host;
  if (allowlist.allows(host)) return false;
  const shown = (host ?? '').slice(0, 100);
  void sendError(
    request,
    reply,
    421,
    'misdirected_request',
    host ? `this server does not answer to the host name "${shown}": add it to --allowed-hosts (VIGIL_ALLOWED_HOSTS)` : 'the request has no Host header',
  );
  return true;
}
