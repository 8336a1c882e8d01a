import { errorBox } from '../components/error-box.js';
import { lineChart, type Series } from '../components/line-chart.js';
import { ApiError, getJson } from '../lib/api.js';
import { h, replace } from '../lib/dom.js';
import { compact, milliseconds, percent } from '../lib/format.js';
import type { MonitorHistory, MonitorPoint } from '../lib/types.js';

const POLL_MS = 3000;
const PALETTE = ['#4f46e5', '#0891b2', '#d97706', '#db2777', '#059669', '#7c3aed', '#dc2626', '#65a30d'];
const GOOD = '#059669';
const BAD = '#dc2626';

/** Predictions per model and label, one series each (green/red for labels that read so). */
function predictionSeries(points: MonitorPoint[]): Series[] {
  const keys = new Set<string>();
  for (const p of points) for (const [model, labels] of Object.entries(p.predictions ?? {})) for (const label of Object.keys(labels)) keys.add(`${model}\u0000${label}`);
  return [...keys].sort().map((key, i) => {
    const [model = '', label = ''] = key.split('\u0000');
    const l = label.toLowerCase();
    const color = /^(positive|pos|ham)$/.test(l) ? GOOD : /^(negative|neg|spam)$/.test(l) ? BAD : PALETTE[i % PALETTE.length]!;
    return { name: `${model} · ${label}`, color, values: points.map((p) => p.predictions?.[model]?.[label] ?? 0) };
  });
}

/** "45 s", "5 min", "2 h": the span the charts cover. */
function windowText(seconds: number): string {
  if (seconds < 120) return `${Math.round(seconds)} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  return `${Math.round(seconds / 3600)} h`;
}

/**
 * Live charts of the server's own history (GET /v1/monitor/history), polled only while this
 * tab is visible so an idle browser tab does not add load to the server it watches.
 */
export function monitorTab() {
  const status = h('p', { class: 'monitor__status', role: 'status' }, 'Waiting for the first sample…');
  const notice = h('div', {});
  const charts = {
    rps: lineChart('Requests per second', compact),
    latency: lineChart('Latency', (s) => milliseconds(s * 1000), { minMax: 0.001, wide: true }),
    errors: lineChart('Error rate', (r) => percent(r, r < 0.1 ? 1 : 0), { minMax: 0.01 }),
    predictions: lineChart('Predictions by label', compact, { wide: true }),
    cpu: lineChart('CPU', (r) => percent(r, 0), { minMax: 0.05 }),
    rss: lineChart('Memory (RSS)', (b) => `${compact(b / 1024 / 1024)} MB`),
    lag: lineChart('Event-loop lag', (s) => milliseconds(s * 1000), { minMax: 0.001 }),
  };
  const kpis = h('dl', { class: 'stats kpis', 'aria-label': 'Latest sample' });
  const grid = h('div', { class: 'charts' }, ...Object.values(charts).map((c) => c.element));
  const body = h('div', {}, kpis, grid);
  body.hidden = true;
  const panel = h(
    'div',
    { class: 'monitor', 'data-availability': 'checking' },
    h('div', { class: 'monitor__bar' }, status, h('a', { href: '/metrics', class: 'link-button', target: '_blank', rel: 'noopener' }, 'Raw Prometheus metrics')),
    notice,
    body,
  );

  let timer: ReturnType<typeof setTimeout> | undefined;
  let active = false;

  const draw = (history: MonitorHistory) => {
    const points = history.points;
    const times = points.map((p) => p.t);
    const pick = (f: (p: MonitorPoint) => number | undefined) => points.map(f);
    charts.rps.update(times, [{ name: 'req/s', color: PALETTE[0]!, values: pick((p) => p.requests_per_second) }]);
    charts.latency.update(times, [
      { name: 'p50', color: PALETTE[1]!, values: pick((p) => p.latency_p50_seconds) },
      { name: 'p95', color: PALETTE[2]!, values: pick((p) => p.latency_p95_seconds) },
      { name: 'p99', color: PALETTE[3]!, values: pick((p) => p.latency_p99_seconds) },
    ]);
    charts.errors.update(times, [{ name: 'errors', color: BAD, values: pick((p) => p.error_ratio) }]);
    charts.predictions.update(times, predictionSeries(points));
    charts.cpu.update(times, [{ name: 'cpu', color: PALETTE[5]!, values: pick((p) => p.cpu_ratio) }]);
    charts.rss.update(times, [{ name: 'rss', color: PALETTE[4]!, values: pick((p) => p.rss_bytes) }]);
    charts.lag.update(times, [{ name: 'lag', color: PALETTE[2]!, values: pick((p) => p.event_loop_lag_seconds) }]);
    const last = points.at(-1);
    const predictions = points.reduce((sum, p) => sum + Object.values(p.predictions ?? {}).reduce((s, labels) => s + Object.values(labels).reduce((a, b) => a + b, 0), 0), 0);
    const tile = (name: string, value: string) => h('div', { class: 'stat' }, h('dt', {}, name), h('dd', {}, value));
    const latest = <K extends keyof MonitorPoint>(key: K) => (last?.[key] as number | undefined);
    const show = (value: number | undefined, format: (v: number) => string) => (value === undefined ? '–' : format(value));
    replace(
      kpis,
      tile('Requests/s', show(latest('requests_per_second'), compact)),
      tile('p95 latency', show(latest('latency_p95_seconds'), (s) => milliseconds(s * 1000))),
      tile('Error rate', show(latest('error_ratio'), (r) => percent(r, 1))),
      tile(points.length > 0 ? `Predictions, last ${windowText(points.length * history.interval_seconds)}` : 'Predictions', compact(predictions)),
      tile('Memory', show(latest('rss_bytes'), (b) => `${compact(b / 1024 / 1024)} MB`)),
    );
    status.textContent = last
      ? `${points.length} sample${points.length === 1 ? '' : 's'}, one every ${history.interval_seconds} s · updated ${new Date(last.t).toLocaleTimeString()}`
      : `No samples yet: the server records one every ${history.interval_seconds} s.`;
  };

  const poll = async () => {
    clearTimeout(timer);
    try {
      const history = await getJson<MonitorHistory>('/v1/monitor/history');
      panel.dataset.availability = 'ready';
      replace(notice);
      body.hidden = false;
      draw(history);
    } catch (error) {
      body.hidden = true;
      if (error instanceof ApiError && error.status === 404) {
        panel.dataset.availability = 'absent';
        status.textContent = '';
        replace(
          notice,
          h(
            'div',
            { class: 'notice notice--muted', role: 'status' },
            h('p', { class: 'notice__title' }, 'This server doesn’t keep a monitoring history'),
            h('p', {}, 'The live charts read ', h('code', {}, 'GET /v1/monitor/history'), ', which this server does not offer. Its Prometheus metrics are still at ', h('a', { href: '/metrics' }, '/metrics'), '.'),
          ),
        );
      } else {
        panel.dataset.availability = 'unreachable';
        replace(notice, errorBox(error));
      }
    }
    if (active && document.visibilityState !== 'hidden') timer = setTimeout(() => void poll(), POLL_MS);
  };
  document.addEventListener('visibilitychange', () => {
    if (!active) return;
    if (document.visibilityState === 'visible') void poll();
    else clearTimeout(timer);
  });

  return {
    panel,
    onShow: () => {
      active = true;
      void poll();
    },
    onHide: () => {
      active = false;
      clearTimeout(timer);
    },
  };
}
