import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { REPO_ROOT } from '../helpers/server.js';

/**
 * What the compose stack exposes by default, read as Docker Compose reads it: `${VAR:-default}`
 * resolved with an empty environment, short and long port syntax alike. No Docker engine is
 * needed (or present) to check what the file says.
 */

const COMPOSE_DIR = path.join(REPO_ROOT, 'deploy', 'compose');
const composeText = readFileSync(path.join(COMPOSE_DIR, 'docker-compose.yml'), 'utf8');

/** Compose's interpolation of `${VAR}`, `${VAR:-default}` and `${VAR-default}` (`$$` is a literal `$`). */
export function interpolate(text: string, env: Record<string, string | undefined>): string {
  return text.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (match, name?: string, op?: string, fallback?: string, bare?: string) => {
    if (match === '$$') return '$';
    const key = (name ?? bare)!;
    const value = env[key];
    if (op === ':-') return value ? value : (fallback ?? '');
    if (op === '-') return value ?? fallback ?? '';
    return value ?? '';
  });
}

interface Published {
  service: string;
  hostIp: string;
  published: string;
  target: string;
}

/** Every published port of every service: short syntax `[ip:]published:target[/proto]` or the long form. */
export function publishedPorts(services: Record<string, { ports?: unknown[] }>): Published[] {
  const out: Published[] = [];
  for (const [service, definition] of Object.entries(services)) {
    for (const port of definition.ports ?? []) {
      if (typeof port === 'object' && port !== null) {
        const p = port as { host_ip?: string; published?: string | number; target: string | number };
        out.push({ service, hostIp: p.host_ip ?? '', published: String(p.published ?? ''), target: String(p.target) });
        continue;
      }
      const text = String(port).replace(/\/(tcp|udp)$/, '');
      // An IPv6 address is bracketed: [::1]:8000:8000.
      const match = /^(?:(\[[^\]]*\]|[^:]*):)?(?:([^:]*):)?([^:]+)$/.exec(text);
      if (!match) throw new Error(`${service}: cannot read port "${text}"`);
      const [, first, second, target] = match;
      // "8000:8000" is published:target with no address; "127.0.0.1:8000:8000" has one.
      if (second === undefined) out.push({ service, hostIp: '', published: first ?? '', target: target! });
      else out.push({ service, hostIp: first!.replace(/^\[|\]$/g, ''), published: second, target: target! });
    }
  }
  return out;
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;

function servicesWith(env: Record<string, string | undefined>): Record<string, any> {
  return (parse(interpolate(composeText, env), { merge: true }) as { services: Record<string, any> }).services;
}

describe('compose security defaults', () => {
  it('reads ports as compose does (so the check below can fail)', () => {
    expect(publishedPorts({ a: { ports: ['8000:8000', '0.0.0.0:9090:9090', '127.0.0.1:1:2/tcp', '[::1]:3:4', '5', { target: 6, published: 7 }] } })).toEqual([
      { service: 'a', hostIp: '', published: '8000', target: '8000' },
      { service: 'a', hostIp: '0.0.0.0', published: '9090', target: '9090' },
      { service: 'a', hostIp: '127.0.0.1', published: '1', target: '2' },
      { service: 'a', hostIp: '::1', published: '3', target: '4' },
      { service: 'a', hostIp: '', published: '', target: '5' },
      { service: 'a', hostIp: '', published: '7', target: '6' },
    ]);
    expect(interpolate('${A:-127.0.0.1}:${B-x}:${C-x}:$D:$$E', { B: '' })).toBe('127.0.0.1::x::$E');
  });

  it('publishes no port on all interfaces by default: every one on loopback', () => {
    const ports = publishedPorts(servicesWith({}));
    expect(ports.length).toBeGreaterThanOrEqual(6);
    const exposed = ports.filter((port) => !LOOPBACK.test(port.hostIp));
    expect(exposed, `published on all interfaces: ${JSON.stringify(exposed)}`).toEqual([]);
  });

  it('exposes them only when PUBLISH_ADDRESS says so, the documented way', () => {
    const ports = publishedPorts(servicesWith({ PUBLISH_ADDRESS: '0.0.0.0' }));
    expect(new Set(ports.map((port) => port.hostIp))).toEqual(new Set(['0.0.0.0']));
    const docs = readFileSync(path.join(REPO_ROOT, 'docs', 'security.md'), 'utf8');
    expect(docs).toContain('PUBLISH_ADDRESS');
  });

  it('runs Prometheus without the lifecycle API (no POST /-/quit for whoever reaches :9090)', () => {
    const services = servicesWith({});
    expect(services.prometheus.command.join(' ')).not.toMatch(/enable-lifecycle/);
    expect(services.prometheus.command.join(' ')).not.toMatch(/enable-admin-api/);
  });

  it("gives Vigil its admin token from a gitignored env file and Host allowlist, and keeps Grafana's anonymous access off", () => {
    const services = servicesWith({});
    for (const name of ['vigil', 'vigil-2']) {
      expect(services[name].env_file).toEqual(['vigil.env']);
      expect(services[name].environment.VIGIL_ADMIN_TOKEN).toBeUndefined();
      expect(services[name].environment.VIGIL_ALLOWED_HOSTS.split(',')).toEqual(expect.arrayContaining([name, 'localhost']));
    }
    const example = readFileSync(path.join(COMPOSE_DIR, 'vigil.env.example'), 'utf8');
    expect(example).toMatch(/^VIGIL_ADMIN_TOKEN=$/m);
    expect(readFileSync(path.join(COMPOSE_DIR, '.gitignore'), 'utf8').split('\n')).toEqual(expect.arrayContaining(['vigil.env', 'grafana.env']));
    expect(services.grafana.environment.GF_AUTH_ANONYMOUS_ENABLED).toBe('false');
    expect(composeText).not.toMatch(/VIGIL_ADMIN_TOKEN\s*[:=]\s*\S/);
  });
});
