/**
 * The Kubernetes kit without a cluster: every manifest parses, the core kinds validate against
 * the Kubernetes OpenAPI schemas (kubernetes-models), and the files agree with each other and
 * with the server (probe paths and ports, labels and selectors, the ServiceMonitor's port name,
 * the image's user, grace period above the drain).
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigMap, Service } from 'kubernetes-models/v1';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/server.js';

const DIR = path.join(REPO_ROOT, 'deploy', 'k8s');
const load = (file: string) => parse(readFileSync(path.join(DIR, file), 'utf8')) as any;

const kustomization = load('kustomization.yaml');
const deployment = load('deployment.yaml');
const service = load('service.yaml');
const hpa = load('hpa.yaml');
const pdb = load('pdb.yaml');
const monitor = load('servicemonitor.yaml');
const configMap = load('configmap.yaml');
const pod = deployment.spec.template.spec;
const container = pod.containers[0];

const subset = (small: Record<string, string>, big: Record<string, string>) => Object.entries(small).every(([k, v]) => big[k] === v);

describe('kustomize base', () => {
  it('lists every manifest in the folder, and each parses', () => {
    const files = readdirSync(DIR).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');
    expect([...kustomization.resources].sort()).toEqual(files.sort());
    expect(kustomization.kind).toBe('Kustomization');
    // Selectors are immutable: common labels must not be added to them.
    expect(kustomization.labels.every((l: { includeSelectors?: boolean }) => l.includeSelectors === false)).toBe(true);
    expect(kustomization.images.map((i: { name: string }) => i.name)).toContain(container.image);
  });

  it('validates the core kinds against the Kubernetes schemas', () => {
    expect(() => new Deployment(deployment).validate()).not.toThrow();
    expect(() => new Service(service).validate()).not.toThrow();
    expect(() => new HorizontalPodAutoscaler(hpa).validate()).not.toThrow();
    expect(() => new PodDisruptionBudget(pdb).validate()).not.toThrow();
    expect(() => new ConfigMap(configMap).validate()).not.toThrow();
  });

  it('the validation catches a broken manifest (so the test above can fail)', () => {
    const broken = structuredClone(deployment);
    broken.spec.template.spec.containers[0].ports[0].containerPort = '8000';
    expect(() => new Deployment(broken).validate()).toThrow(/containerPort/);
  });
});

describe('deployment', () => {
  it('probes: startup and readiness on /ready, liveness on /alive, all on the named health port 8002 that VIGIL_HEALTH_PORT opens', () => {
    expect(container.ports).toEqual([
      { name: 'http', containerPort: 8000, protocol: 'TCP' },
      { name: 'grpc', containerPort: 8081, protocol: 'TCP' },
      { name: 'health', containerPort: 8002, protocol: 'TCP' },
    ]);
    // The health port is the server's only when the setting opens it, on the same number.
    expect(container.env.find((e: { name: string }) => e.name === 'VIGIL_HEALTH_PORT')?.value).toBe(String(container.ports[2].containerPort));
    expect(container.startupProbe.httpGet).toEqual({ path: '/ready', port: 'health' });
    expect(container.readinessProbe.httpGet).toEqual({ path: '/ready', port: 'health' });
    expect(container.livenessProbe.httpGet).toEqual({ path: '/alive', port: 'health' });
    // Kills only after the server thread's own stall bound (5 s) has had time to show.
    expect(container.livenessProbe.periodSeconds * container.livenessProbe.failureThreshold).toBeGreaterThan(5);
    // Room for slow model loads before liveness may kill the container.
    expect(container.startupProbe.failureThreshold * container.startupProbe.periodSeconds).toBeGreaterThanOrEqual(120);
    expect(container.livenessProbe.initialDelaySeconds ?? 0).toBe(0);
  });

  it('binds 0.0.0.0:8000 and reads secrets only from a Secret reference', () => {
    const env = Object.fromEntries(container.env.map((e: { name: string; value: string }) => [e.name, e.value]));
    expect(env).toMatchObject({ HOST: '0.0.0.0', PORT: '8000' });
    expect(container.envFrom).toContainEqual({ secretRef: { name: 'vigil-secrets', optional: true } });
    expect(container.envFrom).toContainEqual({ configMapRef: { name: configMap.metadata.name } });
    const text = readdirSync(DIR).map((f) => readFileSync(path.join(DIR, f), 'utf8')).join('\n');
    expect(text).not.toMatch(/kind:\s*Secret\b/);
    expect(text).not.toMatch(/HF_TOKEN:\s*\S|hf_[A-Za-z0-9]{20,}/);
    expect(JSON.stringify(configMap.data)).not.toMatch(/TOKEN|SECRET|PASSWORD/i);
  });

  it('drains before it is killed: preStop + --drain-delay-ms below the grace period', () => {
    const drainIndex = container.args.indexOf('--drain-delay-ms');
    expect(drainIndex).toBeGreaterThan(0);
    const drainSeconds = Number(container.args[drainIndex + 1]) / 1000;
    const preStop = container.lifecycle.preStop.exec.command;
    expect(preStop[0]).toBe('sleep');
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(Number(preStop[1]) + drainSeconds + 10);
    expect(container.args.slice(0, 3)).toEqual(['node', 'dist/cli/main.js', 'serve']);
  });

  it('runs non-root with a read-only root filesystem, writable /tmp and data dir only', () => {
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 10001, runAsGroup: 10001 });
    expect(container.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    const mounts = Object.fromEntries(container.volumeMounts.map((m: { name: string; mountPath: string }) => [m.mountPath, m.name]));
    expect(Object.keys(mounts).sort()).toEqual(['/tmp', '/var/lib/vigil']);
    for (const name of Object.values(mounts)) expect(pod.volumes.find((v: { name: string }) => v.name === name).emptyDir).toBeDefined();
    // The image's user is the pod's user.
    const dockerfile = readFileSync(path.join(REPO_ROOT, 'deploy', 'docker', 'Dockerfile'), 'utf8');
    expect(dockerfile).toMatch(/^USER 10001:10001$/m);
    expect(configMap.data.VIGIL_CACHE_DIR.startsWith('/var/lib/vigil/')).toBe(true);
  });

  it('requests and limits memory for the embedded models (256-512 Mi)', () => {
    const toMi = (q: string) => Number(q.replace(/Mi$/, ''));
    expect(toMi(container.resources.requests.memory)).toBeGreaterThanOrEqual(256);
    expect(toMi(container.resources.limits.memory)).toBeLessThanOrEqual(512);
    expect(container.resources.requests.cpu).toBeDefined(); // the HPA's utilization is relative to it
  });
});

describe('labels and selectors agree', () => {
  const podLabels = deployment.spec.template.metadata.labels;
  it('Deployment selector, Service, PDB and ServiceMonitor all select the pods', () => {
    expect(subset(deployment.spec.selector.matchLabels, podLabels)).toBe(true);
    expect(subset(service.spec.selector, podLabels)).toBe(true);
    expect(subset(pdb.spec.selector.matchLabels, podLabels)).toBe(true);
    expect(subset(monitor.spec.selector.matchLabels, service.metadata.labels)).toBe(true);
  });

  it('the Service targets the named container port, and the ServiceMonitor scrapes the Service port by name', () => {
    expect(service.spec.ports).toHaveLength(2);
    expect(service.spec.ports[0].targetPort).toBe(container.ports[0].name);
    // gRPC: the container's grpc port, the env that sets it, HTTP/2 in clear.
    expect(service.spec.ports[1]).toMatchObject({ name: 'grpc', port: 8081, targetPort: 'grpc', appProtocol: 'kubernetes.io/h2c' });
    expect(container.env.find((e: { name: string }) => e.name === 'GRPC_PORT')?.value).toBe(String(container.ports[1].containerPort));
    expect(monitor.spec.endpoints.map((e: { port: string }) => e.port)).toEqual([service.spec.ports[0].name]);
    expect(monitor.spec.endpoints[0].path).toBe('/metrics');
    expect(monitor.apiVersion).toBe('monitoring.coreos.com/v1');
    expect(monitor.kind).toBe('ServiceMonitor');
  });

  it('HPA scales this Deployment on CPU; PDB keeps one pod', () => {
    expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: deployment.metadata.name });
    expect(hpa.spec.metrics[0].resource.name).toBe('cpu');
    expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(pdb.spec.minAvailable + 1);
    expect(pdb.spec.minAvailable).toBe(1);
  });
});

describe('a fleet on Kubernetes', () => {
  const headless = load('service-headless.yaml');
  const rule = load('prometheusrule.yaml');
  const dashboard = load('grafana-dashboard.yaml');

  it('leaves the replica count to the HPA and spreads the pods over nodes and zones', () => {
    expect(deployment.spec.replicas).toBeUndefined();
    const term = pod.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm;
    expect(term.topologyKey).toBe('kubernetes.io/hostname');
    expect(subset(term.labelSelector.matchLabels, deployment.spec.template.metadata.labels)).toBe(true);
    expect(pod.topologySpreadConstraints[0]).toMatchObject({ topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'ScheduleAnyway' });
    expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(2);
    // The HPA's utilization is relative to the request: requested = limit, so 70% means 70% of a pod's CPU.
    expect(container.resources.requests.cpu).toBe(container.resources.limits.cpu);
  });

  it('takes the shared prediction log (PostgreSQL) URL and password from a Secret, never from the ConfigMap', () => {
    const env = Object.fromEntries(container.env.map((e: { name: string }) => [e.name, e]));
    expect(env.VIGIL_PREDICTION_LOG.valueFrom.secretKeyRef).toEqual({ name: 'vigil-postgres', key: 'url' });
    expect(env.VIGIL_PREDICTION_LOG_PASSWORD.valueFrom.secretKeyRef).toMatchObject({ name: 'vigil-postgres', key: 'password' });
    expect(configMap.data.VIGIL_PREDICTION_LOG).toBeUndefined();
  });

  it('a headless Service reaches each pod on its own', () => {
    expect(() => new Service(headless).validate()).not.toThrow();
    expect(headless.spec.clusterIP).toBe('None');
    expect(subset(headless.spec.selector, deployment.spec.template.metadata.labels)).toBe(true);
    expect(headless.spec.ports[0].targetPort).toBe(container.ports[0].name);
    // The ServiceMonitor must not scrape every pod twice (once per Service).
    expect(subset(monitor.spec.selector.matchLabels, headless.metadata.labels)).toBe(false);
  });

  it('ships every alert and recording rule as a PrometheusRule, and the dashboard for Grafana\'s sidecar, current with their sources', async () => {
    // @ts-ignore: a plain .mjs script without types
    const { render } = (await import('../../deploy/k8s/render-monitoring.mjs')) as { render(): Record<string, string> };
    for (const [file, text] of Object.entries(render())) {
      expect(readFileSync(path.join(DIR, file), 'utf8'), `${file} is stale: run node deploy/k8s/render-monitoring.mjs`).toBe(text);
    }
    const rules = ['recording.yml', 'alerts.yml'].flatMap((file) => parse(readFileSync(path.join(REPO_ROOT, 'deploy', 'prometheus', 'rules', file), 'utf8')).groups);
    expect(rule).toMatchObject({ apiVersion: 'monitoring.coreos.com/v1', kind: 'PrometheusRule' });
    expect(rule.spec.groups).toEqual(rules);
    const all = rule.spec.groups.flatMap((g: { rules: { alert?: string; record?: string }[] }) => g.rules);
    expect(all.filter((r: { alert?: string }) => r.alert).length).toBeGreaterThanOrEqual(22);
    expect(all.filter((r: { record?: string }) => r.record).length).toBeGreaterThanOrEqual(50);
    // Picked up by the same Prometheus as the ServiceMonitor.
    expect(rule.metadata.labels.release).toBe(monitor.metadata.labels.release);
    expect(() => new ConfigMap(dashboard).validate()).not.toThrow();
    expect(dashboard.metadata.labels.grafana_dashboard).toBe('1');
    const json = JSON.parse(dashboard.data['vigil.json']);
    expect(json.panels.length).toBeGreaterThan(50);
    expect(JSON.stringify(json)).toContain('job_model_version:vigil_online_accuracy:ratio_1h');
    expect(JSON.stringify(json)).not.toContain('vigil-prometheus');
  });
});
