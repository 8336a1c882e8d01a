import type { Catalog, CatalogSnapshot } from '../lib/catalog.js';
import { h, replace, svg } from '../lib/dom.js';

/** The product's mark: an eye (vigilance) drawn inline, so nothing is fetched for it. */
function logo(): SVGSVGElement {
  return svg(
    'svg',
    { class: 'brand__logo', viewBox: '0 0 32 32', width: 32, height: 32, 'aria-hidden': 'true' },
    svg('rect', { x: 0, y: 0, width: 32, height: 32, rx: 9, fill: 'currentColor' }),
    svg('path', { d: 'M5 16c3-5.5 6.8-8 11-8s8 2.5 11 8c-3 5.5-6.8 8-11 8s-8-2.5-11-8z', fill: 'none', stroke: '#fff', 'stroke-width': 2.2, 'stroke-linejoin': 'round' }),
    svg('circle', { cx: 16, cy: 16, r: 3.6, fill: '#fff' }),
  );
}

const STATE_TEXT: Record<string, string> = { ready: 'ready', loading: 'loading', failed: 'failed', unavailable: 'not configured', unloaded: 'unloaded' };

function modelChip(model: CatalogSnapshot['models'][number], isDefault: boolean): HTMLElement {
  const state = model.state;
  const tone = state === 'ready' ? 'good' : state === 'loading' ? 'warn' : state === 'unavailable' || state === 'unloaded' ? 'idle' : 'bad';
  const title = [`${model.task} · ${model.runtime}`, model.reason, isDefault ? 'default model (POST /predict)' : undefined].filter(Boolean).join('\n');
  return h(
    'li',
    { class: `model-chip model-chip--${tone}`, 'data-model': model.name, 'data-state': state, title },
    h('span', { class: 'dot', 'aria-hidden': 'true' }),
    h('span', { class: 'model-chip__name' }, model.name),
    h('span', { class: 'model-chip__version' }, `v${model.version}`),
    // "ready" is the usual case: said to screen readers, not shown, so the problems stand out.
    h('span', { class: `model-chip__state${state === 'ready' ? ' sr-only' : ''}` }, STATE_TEXT[state] ?? state),
  );
}

/** Product name, the server's readiness and its models (kept fresh by the catalog), and links. */
export function header(catalog: Catalog): HTMLElement {
  const readiness = h('span', { class: 'status-pill', role: 'status', 'aria-live': 'polite' }, 'Connecting…');
  const models = h('ul', { class: 'model-chips', 'aria-label': 'Models loaded on this server' });

  catalog.subscribe((snapshot) => {
    let tone = 'warn';
    let text = 'Connecting…';
    if (snapshot.loaded && !snapshot.reachable) [tone, text] = ['bad', 'Server unreachable'];
    else if (snapshot.loaded && snapshot.ready) [tone, text] = ['good', 'Ready'];
    else if (snapshot.loaded && snapshot.readyReason) [tone, text] = ['warn', `Not ready: ${snapshot.readyReason}`];
    else if (snapshot.loaded && snapshot.models.some((m) => m.state === 'loading')) [tone, text] = ['warn', 'Loading models…'];
    else if (snapshot.loaded) [tone, text] = ['bad', 'Not ready'];
    readiness.className = `status-pill status-pill--${tone}`;
    readiness.dataset.ready = String(snapshot.ready);
    replace(readiness, h('span', { class: 'dot', 'aria-hidden': 'true' }), text);
    if (snapshot.loaded && snapshot.reachable && snapshot.models.length === 0) {
      replace(models, h('li', { class: 'model-chips__empty' }, 'No models configured'));
    } else {
      replace(models, ...snapshot.models.map((m) => modelChip(m, m.name === snapshot.defaultModel)));
    }
  });

  return h(
    'header',
    { class: 'topbar' },
    h(
      'div',
      { class: 'topbar__inner' },
      h(
        'a',
        { class: 'brand', href: './', 'aria-label': 'Vigil playground home' },
        logo(),
        h('span', { class: 'brand__text' }, h('span', { class: 'brand__name' }, 'Vigil'), h('span', { class: 'brand__tagline' }, 'Model serving playground')),
      ),
      h('div', { class: 'topbar__status' }, readiness, models),
      h(
        'nav',
        { class: 'topbar__links', 'aria-label': 'Server' },
        h('a', { href: '/docs', class: 'link-button', target: '_blank', rel: 'noopener' }, 'API docs'),
        h('a', { href: '/metrics', class: 'link-button', target: '_blank', rel: 'noopener' }, 'Metrics'),
      ),
    ),
  );
}
