import type { Catalog, CatalogSnapshot } from '../lib/catalog.js';
import { h, replace } from '../lib/dom.js';
import type { ModelInfo } from '../lib/types.js';

/**
 * Shows a tab's working body only while its model is loaded and ready; otherwise a notice that
 * says why (not loaded, still loading, failed with the server's reason, server unreachable) and
 * how to fix it. The body is built once and kept, so a model that reloads keeps the user's input.
 */
export type Availability = 'checking' | 'unreachable' | 'absent' | 'loading' | 'unavailable' | 'failed' | 'ready';

export interface GateOptions {
  /** The model this tab drives, as the messages name it. */
  modelName: string;
  /** Finds the model in the snapshot (a tab may accept a substitute, e.g. the default model). */
  pick?: (snapshot: CatalogSnapshot) => ModelInfo | undefined;
  /** Why someone would want the model and how to get it loaded. */
  absentHint: (string | Node)[];
  build: () => HTMLElement;
  /** Called whenever the (ready) model's description changes. */
  onModel?: (model: ModelInfo) => void;
}

function availabilityOf(snapshot: CatalogSnapshot, model: ModelInfo | undefined): Availability {
  if (!snapshot.loaded) return 'checking';
  if (!snapshot.reachable) return 'unreachable';
  if (!model) return snapshot.error ? 'unreachable' : 'absent';
  if (model.state === 'ready') return 'ready';
  if (model.state === 'loading') return 'loading';
  // `unavailable`: registered but not usable as configured (e.g. a remote model without a token).
  if (model.state === 'unavailable' || model.state === 'unloaded') return 'unavailable';
  return 'failed';
}

function notice(availability: Availability, name: string, model: ModelInfo | undefined, snapshot: CatalogSnapshot, hint: (string | Node)[]): HTMLElement {
  const code = (text: string) => h('code', {}, text);
  switch (availability) {
    case 'checking':
      return h('div', { class: 'notice notice--info', role: 'status' }, h('p', { class: 'notice__title' }, 'Checking which models this server has loaded…'));
    case 'unreachable':
      return h(
        'div',
        { class: 'notice notice--error', role: 'alert' },
        h('p', { class: 'notice__title' }, 'Can’t reach the Vigil server'),
        h('p', {}, snapshot.error ?? 'The server did not answer.', ' This page retries by itself every few seconds.'),
      );
    case 'absent':
      return h(
        'div',
        { class: 'notice notice--muted', role: 'status' },
        h('p', { class: 'notice__title' }, 'The ', code(name), ' model isn’t loaded on this server'),
        h('p', {}, ...hint),
      );
    case 'loading':
      return h(
        'div',
        { class: 'notice notice--info', role: 'status' },
        h('p', { class: 'notice__title' }, code(name), ` v${model?.version ?? '?'} is still loading…`),
        h('p', {}, 'This tab switches on by itself as soon as the model is warmed up.'),
      );
    case 'unavailable':
      return h(
        'div',
        { class: 'notice notice--muted', role: 'status' },
        h('p', { class: 'notice__title' }, 'The ', code(name), model?.state === 'unloaded' ? ' model has been unloaded' : ' model isn’t configured on this server'),
        model?.reason ? h('p', { class: 'notice__detail' }, model.reason) : false,
        h('p', {}, ...hint),
      );
    default:
      return h(
        'div',
        { class: 'notice notice--error', role: 'alert' },
        h('p', { class: 'notice__title' }, code(name), ` v${model?.version ?? '?'} is not available (${model?.state ?? 'unknown'})`),
        h('p', {}, model?.reason ?? 'The server did not say why.', ' Check the server log for details.'),
      );
  }
}

export function gatedPanel(catalog: Catalog, options: GateOptions): HTMLElement {
  const noticeSlot = h('div', { class: 'gate__notice' });
  const container = h('div', { class: 'gate', 'data-availability': 'checking', 'data-model': options.modelName }, noticeSlot);
  let body: HTMLElement | undefined;
  let lastModelKey = '';

  catalog.subscribe((snapshot) => {
    const model = options.pick ? options.pick(snapshot) : snapshot.models.find((m) => m.name === options.modelName);
    const availability = availabilityOf(snapshot, model);
    container.dataset.availability = availability;
    if (availability === 'ready' && model) {
      if (!body) {
        body = options.build();
        container.append(body);
      }
      body.hidden = false;
      replace(noticeSlot);
      const key = JSON.stringify([model.name, model.version, model.state, model.labels]);
      if (key !== lastModelKey) {
        lastModelKey = key;
        options.onModel?.(model);
      }
      return;
    }
    if (body) body.hidden = true;
    lastModelKey = '';
    replace(noticeSlot, notice(availability, model?.name ?? options.modelName, model, snapshot, options.absentHint));
  });
  return container;
}
