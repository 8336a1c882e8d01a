import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { REPO_ROOT } from '../helpers/server.js';

/**
 * The compose file and Grafana provisioning, checked by parsing (this machine has no Docker
 * engine to run them): what the stack needs to start and be useful, and the wiring between
 * files that a typo would break silently (datasource uid, mount paths, rule paths).
 */

const COMPOSE_DIR = path.join(REPO_ROOT, 'deploy', 'compose');
// merge: compose applies YAML merge keys (`<<: *vigil`); YAML 1.2 parsers do not by default.
const compose = parse(readFileSync(path.join(COMPOSE_DIR, 'docker-compose.yml'), 'utf8'), { merge: true }) as any;
const services: Record<string, any> = compose.services;
const DATASOURCE_UID = 'vigil-prometheus';

describe('deploy/compose/docker-compose.yml', () => {
  it('runs Vigil, Prometheus, Alertmanager, Grafana and node_exporter, plus a second replica in the cluster profile', () => {
    expect(Object.keys(services).sort()).toEqual(['alertmanager', 'grafana', 'node-exporter', 'postgres', 'prometheus', 'vigil', 'vigil-2']);
    expect(services.vigil.profiles).toBeUndefined();
    expect(services['vigil-2'].profiles).toEqual(['cluster']);
    expect(services.postgres.profiles).toEqual(['cluster']);
    for (const name of ['vigil', 'vigil-2']) {
      expect(services[name].build).toEqual({ context: '../..', dockerfile: 'deploy/docker/Dockerfile' });
    }
    // The image's own health check script, which the image really contains.
    expect(services.vigil.healthcheck.test).toEqual(['CMD', 'node', 'deploy/docker/healthcheck.mjs']);
    const dockerfile = readFileSync(path.join(REPO_ROOT, 'deploy', 'docker', 'Dockerfile'), 'utf8');
    expect(dockerfile).toContain('deploy/docker/healthcheck.mjs');
    expect(dockerfile).toMatch(/EXPOSE 8000/);
    // Two replicas, two host ports each (HTTP and gRPC; loopback unless PUBLISH_ADDRESS says
    // otherwise), one container port each.
    expect(services.vigil.ports).toEqual(['${PUBLISH_ADDRESS:-127.0.0.1}:8000:8000', '${PUBLISH_ADDRESS:-127.0.0.1}:8081:8081']);
    expect(services['vigil-2'].ports).toEqual(['${PUBLISH_ADDRESS:-127.0.0.1}:8001:8000', '${PUBLISH_ADDRESS:-127.0.0.1}:8082:8081']);
  });

  it('pins every image to a version', () => {
    for (const [name, service] of Object.entries(services)) {
      if (service.build) continue;
      // PostgreSQL numbers its releases MAJOR.MINOR (16.4); the others MAJOR.MINOR.PATCH.
      expect(service.image, name).toMatch(name === 'postgres' ? /^postgres:\d+\.\d+$/ : /^[\w./-]+:v?\d+\.\d+\.\d+$/);
    }
  });

  it('gives every service a health check and orders start-up on health', () => {
    for (const [name, service] of Object.entries(services)) {
      const test = service.healthcheck?.test;
      expect(Array.isArray(test) && test[0] === 'CMD', `${name} health check`).toBe(true);
      expect(service.healthcheck.interval, name).toBeTruthy();
    }
    expect(services.grafana.depends_on).toEqual({ prometheus: { condition: 'service_healthy' } });
    expect(services.prometheus.depends_on).toEqual({ alertmanager: { condition: 'service_healthy' }, 'node-exporter': { condition: 'service_healthy' } });
    // Prometheus must not wait for Vigil: a Vigil that never gets healthy is what it must see.
    expect(services.prometheus.depends_on.vigil).toBeUndefined();
  });

  it('keeps data in named volumes and mounts only files that exist', () => {
    expect(Object.keys(compose.volumes).sort()).toEqual(['alertmanager-data', 'grafana-data', 'postgres-data', 'prometheus-data', 'vigil-2-data', 'vigil-data']);
    expect(services.postgres.volumes).toContain('postgres-data:/var/lib/postgresql/data');
    // One node: each replica keeps its own SQLite log, on its own volume (the cluster: PostgreSQL).
    expect(services.vigil.volumes).toContain('vigil-data:/var/lib/vigil');
    expect(services['vigil-2'].volumes).toContain('vigil-2-data:/var/lib/vigil');
    for (const [name, service] of Object.entries(services)) {
      for (const volume of service.volumes ?? []) {
        const [source] = String(volume).split(':');
        if (!source!.startsWith('.')) continue; // named volume or host path (/proc...)
        expect(existsSync(path.resolve(COMPOSE_DIR, source!)), `${name}: ${source}`).toBe(true);
      }
    }
    expect(services.prometheus.volumes).toContain('./prometheus.yml:/etc/prometheus/prometheus.yml:ro');
    expect(services.prometheus.volumes).toContain('../prometheus/rules:/etc/prometheus/rules:ro');
    expect(services.alertmanager.volumes).toContain('../alertmanager/alertmanager.yml:/etc/alertmanager/alertmanager.yml:ro');
  });

  it('reads the Grafana admin password from a gitignored env file, not from the compose file', () => {
    expect(services.grafana.env_file).toEqual(['grafana.env']);
    const text = readFileSync(path.join(COMPOSE_DIR, 'docker-compose.yml'), 'utf8');
    expect(text).not.toMatch(/GF_SECURITY_ADMIN_PASSWORD\s*[:=]/);
    expect(readFileSync(path.join(COMPOSE_DIR, 'grafana.env.example'), 'utf8')).toMatch(/^GF_SECURITY_ADMIN_PASSWORD=/m);
    const ignored = spawnSync('git', ['check-ignore', '-q', 'deploy/compose/grafana.env'], { cwd: REPO_ROOT });
    expect(ignored.status, 'deploy/compose/grafana.env must be gitignored').toBe(0);
  });

  it('the cluster profile is a fleet: both replicas on the one PostgreSQL, its password in a gitignored file', () => {
    const clusterEnv = Object.fromEntries(
      readFileSync(path.join(COMPOSE_DIR, 'cluster.env.example'), 'utf8').split('\n').filter((l) => /^[A-Z_]+=/.test(l)).map((l) => l.split(/=(.*)/s).slice(0, 2)),
    );
    expect(clusterEnv.COMPOSE_PROFILES).toBe('cluster');
    // Both replicas take the same setting: with the cluster's .env both log to the postgres service.
    for (const name of ['vigil', 'vigil-2']) expect(services[name].environment.VIGIL_PREDICTION_LOG).toBe('${VIGIL_PREDICTION_LOG:-/var/lib/vigil/predictions.sqlite}');
    const url = new URL(clusterEnv.VIGIL_PREDICTION_LOG!);
    expect([url.protocol, url.hostname, url.port, url.pathname, url.password]).toEqual(['postgres:', 'postgres', '5432', `/${services.postgres.environment.POSTGRES_DB}`, '']);
    expect(url.username).toBe(services.postgres.environment.POSTGRES_USER);
    expect(services.postgres.env_file).toEqual(['postgres.env']);
    expect(services.postgres.ports).toBeUndefined();
    expect(readFileSync(path.join(COMPOSE_DIR, 'postgres.env.example'), 'utf8')).toMatch(/^POSTGRES_PASSWORD=$/m);
    expect(readFileSync(path.join(COMPOSE_DIR, 'vigil.env.example'), 'utf8')).toMatch(/^VIGIL_PREDICTION_LOG_PASSWORD=$/m);
    for (const file of ['deploy/compose/postgres.env', 'deploy/compose/.env']) {
      expect(spawnSync('git', ['check-ignore', '-q', file], { cwd: REPO_ROOT }).status, `${file} must be gitignored`).toBe(0);
    }
    // Prometheus keeps more than the SLO's 30 days.
    const retention = services.prometheus.command.find((c: string) => c.startsWith('--storage.tsdb.retention.time='));
    expect(Number(/=(\d+)d$/.exec(retention)![1])).toBeGreaterThanOrEqual(30);
  });

  it('points Prometheus at both replicas by DNS and at the compose service names', () => {
    const prom = parse(readFileSync(path.join(COMPOSE_DIR, 'prometheus.yml'), 'utf8')) as any;
    const jobs = Object.fromEntries(prom.scrape_configs.map((j: any) => [j.job_name, j]));
    expect(Object.keys(jobs).sort()).toEqual(['alertmanager', 'node', 'prometheus', 'vigil']);
    expect(jobs.vigil.dns_sd_configs[0].names).toEqual(['vigil', 'vigil-2']);
    expect(jobs.node.static_configs[0].targets).toEqual(['node-exporter:9100']);
    expect(prom.alerting.alertmanagers[0].static_configs[0].targets).toEqual(['alertmanager:9093']);
    // Same rules as the VM config: the rule files are shared, not copied.
    const vm = parse(readFileSync(path.join(REPO_ROOT, 'deploy', 'prometheus', 'prometheus.yml'), 'utf8')) as any;
    expect(prom.rule_files).toEqual(vm.rule_files);
  });
});

describe('deploy/grafana', () => {
  const dashboard = JSON.parse(readFileSync(path.join(REPO_ROOT, 'deploy', 'grafana', 'dashboards', 'vigil.json'), 'utf8'));
  const datasources = parse(readFileSync(path.join(REPO_ROOT, 'deploy', 'grafana', 'provisioning', 'datasources', 'prometheus.yml'), 'utf8')) as any;
  const providers = parse(readFileSync(path.join(REPO_ROOT, 'deploy', 'grafana', 'provisioning', 'dashboards', 'vigil.yml'), 'utf8')) as any;

  it('provisions the Prometheus datasource with the fixed uid every panel uses', () => {
    expect(datasources.datasources).toHaveLength(1);
    expect(datasources.datasources[0]).toMatchObject({ uid: DATASOURCE_UID, type: 'prometheus' });
    const uids = new Set<string>();
    const walk = (node: unknown): void => {
      if (Array.isArray(node)) node.forEach(walk);
      else if (node && typeof node === 'object') {
        for (const [key, value] of Object.entries(node)) {
          if (key === 'datasource') uids.add(JSON.stringify(value));
          walk(value);
        }
      }
    };
    walk(dashboard);
    expect([...uids]).toEqual([JSON.stringify({ type: 'prometheus', uid: DATASOURCE_UID })]);
    for (const panel of dashboard.panels.filter((p: any) => p.type !== 'row')) {
      expect(panel.datasource?.uid, panel.title).toBe(DATASOURCE_UID);
      for (const target of panel.targets) expect(target.datasource?.uid, panel.title).toBe(DATASOURCE_UID);
    }
  });

  it('loads dashboards from the folder compose mounts them into', () => {
    const folder = providers.providers[0].options.path;
    expect(services.grafana.volumes).toContain(`../grafana/dashboards:${folder}:ro`);
    expect(services.grafana.volumes).toContain('../grafana/provisioning:/etc/grafana/provisioning:ro');
  });

  it('has instance and model variables, unique panel ids and the sections the issue asks for', () => {
    expect(dashboard.templating.list.map((v: any) => v.name)).toEqual(['instance', 'model', 'node']);
    const ids = dashboard.panels.map((p: any) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    const rows = dashboard.panels.filter((p: any) => p.type === 'row').map((p: any) => p.title);
    expect(rows).toEqual([
      'Overview',
      'Golden signals per route',
      'Golden signals over gRPC',
      'Models',
      'Inference stages, batching and queue',
      'Model quality: drift and delayed labels',
      'Remote API',
      'Process (Node.js)',
      'Host (node_exporter)',
    ]);
    const exprs = dashboard.panels.flatMap((p: any) => (p.targets ?? []).map((t: any) => t.expr)).join('\n');
    for (const metric of [
      'http_requests_total', 'http_request_duration_seconds_bucket', 'http_requests_in_flight',
      'grpc_server_handled_total', 'grpc_server_handling_seconds_bucket', 'grpc_server_in_flight', 'job:grpc_slo_errors_per_call:ratio_rate1h',
      'vigil_inference_stage_duration_seconds_bucket', 'vigil_predictions_total', 'vigil_prediction_confidence_bucket',
      'vigil_batch_size_bucket', 'vigil_queue_depth', 'vigil_requests_shed_total',
      'requests_api_total', 'errors_api_total', 'api_generation_latency_seconds_bucket', 'vigil_remote_circuit_state',
      'process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_p99_seconds', 'nodejs_gc_duration_seconds_sum',
      'vigil_drift_psi', 'vigil_online_accuracy', 'vigil_feedback_total',
      'node_cpu_seconds_total', 'node_memory_MemAvailable_bytes', 'node_filesystem_avail_bytes', 'node_network_receive_bytes_total',
    ]) {
      expect(exprs, metric).toContain(metric);
    }
  });
});
