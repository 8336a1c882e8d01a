import { h } from '../lib/dom.js';

export interface TabSpec {
  id: string;
  title: string;
  /** Small tag beside the title, e.g. "local model". */
  badge?: string;
  /** One sentence under the panel heading: what this tab does. */
  intro: string;
  panel: HTMLElement;
  onShow?: () => void;
  onHide?: () => void;
}

/**
 * WAI-ARIA tabs: a tablist of buttons with roving tabindex (arrow keys, Home, End move between
 * tabs), each controlling one tabpanel. The selected tab is kept in the URL hash so a link or
 * a reload opens the same tab.
 */
export function tabs(specs: TabSpec[]): HTMLElement {
  const buttons = new Map<string, HTMLButtonElement>();
  const panels = new Map<string, HTMLElement>();
  let selected: string | undefined;

  const select = (id: string, focus = false) => {
    if (!buttons.has(id)) return;
    if (selected === id) {
      if (focus) buttons.get(id)?.focus();
      return;
    }
    const previous = specs.find((s) => s.id === selected);
    previous?.onHide?.();
    selected = id;
    for (const spec of specs) {
      const on = spec.id === id;
      const button = buttons.get(spec.id)!;
      button.setAttribute('aria-selected', String(on));
      button.tabIndex = on ? 0 : -1;
      panels.get(spec.id)!.hidden = !on;
    }
    if (focus) buttons.get(id)?.focus();
    // On a phone the tab strip scrolls sideways: keep the chosen tab in view.
    // (Next frame: on the first call the strip is not in the document yet.)
    requestAnimationFrame(() => buttons.get(id)?.scrollIntoView?.({ block: 'nearest', inline: 'nearest' }));
    if (location.hash !== `#${id}`) history.replaceState(null, '', `#${id}`);
    specs.find((s) => s.id === id)?.onShow?.();
  };

  const list = h('div', { class: 'tabs__list', role: 'tablist', 'aria-label': 'Playground' });
  const body = h('div', { class: 'tabs__panels' });
  for (const spec of specs) {
    const button = h(
      'button',
      { type: 'button', role: 'tab', id: `tab-${spec.id}`, class: 'tab', 'aria-controls': `panel-${spec.id}`, 'aria-selected': 'false', tabindex: -1 },
      h('span', { class: 'tab__title' }, spec.title),
      spec.badge ? h('span', { class: 'tab__badge' }, spec.badge) : false,
    );
    button.addEventListener('click', () => select(spec.id));
    buttons.set(spec.id, button);
    list.append(button);
    const panel = h(
      'section',
      { role: 'tabpanel', id: `panel-${spec.id}`, class: 'panel', 'aria-labelledby': `tab-${spec.id}`, tabindex: 0, hidden: true },
      h('header', { class: 'panel__header' }, h('h2', { class: 'panel__title' }, spec.title), h('p', { class: 'panel__intro' }, spec.intro)),
      spec.panel,
    );
    panels.set(spec.id, panel);
    body.append(panel);
  }

  list.addEventListener('keydown', (event) => {
    const ids = specs.map((s) => s.id);
    const index = ids.indexOf(selected ?? '');
    const move: Record<string, number> = { ArrowRight: index + 1, ArrowLeft: index - 1, Home: 0, End: ids.length - 1 };
    const target = move[event.key];
    if (target === undefined) return;
    event.preventDefault();
    select(ids[(target + ids.length) % ids.length]!, true);
  });
  window.addEventListener('hashchange', () => select(location.hash.slice(1)));

  const initial = location.hash.slice(1);
  select(buttons.has(initial) ? initial : specs[0]!.id);
  return h('div', { class: 'tabs' }, list, body);
}
