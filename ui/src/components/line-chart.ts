import { h, replace, svg } from '../lib/dom.js';
import { clock } from '../lib/format.js';

export interface Series {
  name: string;
  /** One value per time; undefined leaves a gap. */
  values: (number | undefined)[];
  color: string;
}

const WIDTH = 600;
const HEIGHT = 150;

/**
 * A small time-series chart drawn as SVG: gridlines, one line per series, the y range and the
 * time span as text, and a legend with each series' latest value. The SVG stretches to its box
 * (lines keep their width via non-scaling-stroke), so it is responsive without re-layout code.
 */
export function lineChart(title: string, format: (value: number) => string, options: { minMax?: number; summary?: string; wide?: boolean } = {}) {
  const legend = h('ul', { class: 'chart__legend' });
  const plot = svg('svg', { class: 'chart__plot', viewBox: `0 0 ${WIDTH} ${HEIGHT}`, preserveAspectRatio: 'none', 'aria-hidden': 'true' });
  const yTop = h('span', { class: 'chart__y chart__y--top' });
  const yBottom = h('span', { class: 'chart__y chart__y--bottom' });
  const xStart = h('span', {});
  const xEnd = h('span', {});
  const empty = h('p', { class: 'chart__empty' }, 'Waiting for data…');
  const element = h(
    'figure',
    { class: `chart card${options.wide ? ' chart--wide' : ''}`, 'data-chart': title },
    h('figcaption', { class: 'chart__header' }, h('span', { class: 'chart__title' }, title), legend),
    h('div', { class: 'chart__area' }, plot, yTop, yBottom, empty),
    h('div', { class: 'chart__x' }, xStart, xEnd),
  );
  // Screen readers get the latest values as text rather than an unlabelled drawing.
  element.setAttribute('role', 'group');
  element.setAttribute('aria-label', options.summary ?? title);

  const update = (times: number[], series: Series[]) => {
    const values = series.flatMap((s) => s.values.filter((v): v is number => v !== undefined && Number.isFinite(v)));
    empty.hidden = values.length > 0;
    const max = Math.max(options.minMax ?? 0, ...values) || 1;
    const niceMax = niceCeiling(max);
    const first = times[0];
    const last = times.at(-1);
    const span = first !== undefined && last !== undefined && last > first ? last - first : 1;
    const x = (t: number) => (first === undefined ? 0 : ((t - first) / span) * WIDTH);
    // With one sample there is no span: draw its value as a level line across the chart.
    const single = times.length === 1;
    const y = (v: number) => HEIGHT - (v / niceMax) * (HEIGHT - 4) - 2;

    const grid = [0.25, 0.5, 0.75].map((f) => svg('line', { x1: 0, x2: WIDTH, y1: HEIGHT * f, y2: HEIGHT * f, class: 'chart__grid', 'vector-effect': 'non-scaling-stroke' }));
    const lines = series.flatMap((s) => {
      let d = '';
      // A sample with gaps on both sides (e.g. no traffic before and after) has no line to be
      // part of: it is drawn as a dot, a zero-length segment with a round cap.
      let dots = '';
      let run: [number, number][] = [];
      const flush = () => {
        if (run.length === 1) dots += `M${run[0]![0].toFixed(1)},${run[0]![1].toFixed(1)}h0.01`;
        else run.forEach(([px, py], i) => (d += `${i === 0 ? 'M' : 'L'}${px.toFixed(1)},${py.toFixed(1)}`));
        run = [];
      };
      s.values.forEach((v, i) => {
        const t = times[i];
        if (v === undefined || v === null || !Number.isFinite(v) || t === undefined) flush();
        else if (single) d += `M0,${y(v).toFixed(1)}L${WIDTH},${y(v).toFixed(1)}`;
        else run.push([x(t), y(v)]);
      });
      flush();
      const common = { fill: 'none', stroke: s.color, 'stroke-linecap': 'round', 'stroke-linejoin': 'round', 'vector-effect': 'non-scaling-stroke' };
      return [svg('path', { ...common, d, 'stroke-width': 2 }), svg('path', { ...common, d: dots, 'stroke-width': 6 })];
    });
    plot.replaceChildren(...grid, ...lines);
    // No scale without data: an axis labelled for nothing only confuses.
    yTop.textContent = values.length > 0 ? format(niceMax) : '';
    yBottom.textContent = values.length > 0 ? format(0) : '';
    xStart.textContent = first === undefined ? '' : clock(first);
    xEnd.textContent = last === undefined ? '' : clock(last);
    replace(
      legend,
      ...series.map((s) => {
        const latest = [...s.values].reverse().find((v) => v !== undefined && Number.isFinite(v));
        return h(
          'li',
          { class: 'chart__key' },
          h('span', { class: 'chart__swatch', style: `background:${s.color}`, 'aria-hidden': 'true' }),
          `${s.name} `,
          h('strong', {}, latest === undefined ? '–' : format(latest)),
        );
      }),
    );
  };
  return { element, update };
}

/** 1, 2, 2.5, 5 x 10^n at or above the value, so axis labels are round numbers. */
export function niceCeiling(value: number): number {
  if (value <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}
