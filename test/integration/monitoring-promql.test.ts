import { describe, expect, it } from 'vitest';
import { alertmanagerConfig, prometheusConfig, readDeploy, ruleExpressions, selectorsOf } from '../helpers/prometheus.js';
import { parse } from 'yaml';

/**
 * The helpers the monitoring-stack test relies on to prove "every metric a rule reads exists"
 * and "only ports, targets and intervals are substituted": if they were wrong, that test could
 * pass without checking anything. No Prometheus needed here.
 */

describe('selectorsOf', () => {
  it('finds the vector selectors of an expression, with their matchers', () => {
    expect(selectorsOf('sum by (job, route) (rate(http_requests_total{status=~"5..", route!~"/metrics|/ready"}[5m]))')).toEqual([
      'http_requests_total{status=~"5..", route!~"/metrics|/ready"}',
    ]);
    expect(
      selectorsOf('vigil_online_accuracy < avg_over_time(vigil_online_accuracy[7d]) - 0.05\n  and on (job, instance, model, version)\nvigil_online_window_size >= 100'),
    ).toEqual(['vigil_online_accuracy', 'vigil_online_window_size']);
  });

  it('skips functions, aggregations, keywords, grouping labels, durations, numbers and strings', () => {
    const found = selectorsOf(
      'histogram_quantile(0.95, sum by (le, model) (rate(x_bucket{model="and or unless"}[1h]))) > 1e-3 and on (instance) group_left (version) absent(y) or vector(1) # a comment naming z',
    );
    expect(found).toEqual(['x_bucket{model="and or unless"}', 'y']);
    // A string argument (count_values' label name) is not a selector either.
    expect(selectorsOf('count by (model) (count_values by (model) ("fingerprint", vigil_routing_fingerprint))')).toEqual(['vigil_routing_fingerprint']);
  });

  it('reads recording-rule names as selectors too', () => {
    expect(selectorsOf('job:slo_errors_per_request:ratio_rate1h > (14.4 * 0.005)')).toEqual(['job:slo_errors_per_request:ratio_rate1h']);
  });

  it('finds at least one selector in every committed alert', () => {
    for (const rule of ruleExpressions(readDeploy('prometheus', 'rules', 'alerts.yml'))) {
      expect(selectorsOf(rule.expr).length, rule.name).toBeGreaterThan(0);
    }
  });
});

describe('config substitution for the tests', () => {
  it('changes only targets and intervals of prometheus.yml', () => {
    const original = parse(readDeploy('prometheus', 'prometheus.yml')) as any;
    const changed = parse(
      prometheusConfig(readDeploy('prometheus', 'prometheus.yml'), {
        targets: { vigil: ['127.0.0.1:1', '127.0.0.1:2'], node: ['127.0.0.1:3'], alertmanager: ['127.0.0.1:4'], prometheus: ['127.0.0.1:5'] },
        alertmanagers: ['127.0.0.1:4'],
        scrapeInterval: '1s',
        evaluationInterval: '1s',
      }),
    ) as any;
    expect(changed.rule_files).toEqual(original.rule_files);
    expect(changed.global.external_labels).toEqual(original.global.external_labels);
    expect(changed.scrape_configs.map((j: any) => j.job_name)).toEqual(original.scrape_configs.map((j: any) => j.job_name));
    const strip = (j: any) => ({ ...j, static_configs: undefined });
    expect(changed.scrape_configs.map(strip)).toEqual(original.scrape_configs.map(strip));
    expect(changed.scrape_configs[0].static_configs).toEqual([{ targets: ['127.0.0.1:1', '127.0.0.1:2'] }]);
  });

  it('changes only webhook hosts and grouping intervals of alertmanager.yml', () => {
    const original = parse(readDeploy('alertmanager', 'alertmanager.yml')) as any;
    const changed = parse(
      alertmanagerConfig(readDeploy('alertmanager', 'alertmanager.yml'), { webhookBase: 'http://127.0.0.1:9', groupWait: '1s', groupInterval: '2s' }),
    ) as any;
    expect(changed.inhibit_rules).toEqual(original.inhibit_rules);
    expect(changed.route.routes).toEqual(original.route.routes);
    expect(changed.route.group_by).toEqual(original.route.group_by);
    expect(changed.receivers.map((r: any) => r.name)).toEqual(original.receivers.map((r: any) => r.name));
    expect(changed.receivers.flatMap((r: any) => r.webhook_configs.map((w: any) => w.url))).toEqual([
      'http://127.0.0.1:9/alerts/page',
      'http://127.0.0.1:9/alerts/ticket',
    ]);
  });
});
