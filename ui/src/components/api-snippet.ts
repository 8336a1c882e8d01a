import { h } from '../lib/dom.js';

/** Quotes a string for a POSIX shell: single quotes, with any single quote spliced in as '\''. */
export function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/** The curl command that makes the same request as the form. */
export function curlCommand(origin: string, path: string, body: unknown): string {
  return `curl -s ${origin}${path} \\\n  -H 'content-type: application/json' \\\n  -d ${shellQuote(JSON.stringify(body))}`;
}

/**
 * "Call it from your code": the equivalent curl command, kept in step with the form, and a
 * copy button. The playground is a way into the API, not a replacement for it.
 */
export function apiSnippet(path: () => string): { element: HTMLElement; update(body: unknown): void } {
  const code = h('code', { class: 'snippet__code' });
  const copied = h('span', { class: 'snippet__copied', role: 'status', 'aria-live': 'polite' });
  const copy = h('button', { type: 'button', class: 'button button--small' }, 'Copy');
  copy.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(code.textContent ?? '');
      copied.textContent = 'Copied';
    } catch {
      // No clipboard access (plain http on a remote host): select the text for Ctrl+C instead.
      const range = document.createRange();
      range.selectNodeContents(code);
      getSelection()?.removeAllRanges();
      getSelection()?.addRange(range);
      copied.textContent = 'Selected: press Ctrl+C';
    }
    setTimeout(() => (copied.textContent = ''), 2500);
  });
  const element = h(
    'section',
    { class: 'card snippet', 'aria-label': 'The same request with curl' },
    h('div', { class: 'snippet__header' }, h('p', { class: 'prediction__eyebrow' }, 'Call it from your code'), h('span', { class: 'snippet__actions' }, copied, copy)),
    h('pre', { class: 'snippet__pre' }, code),
  );
  return {
    element,
    update(body) {
      code.textContent = curlCommand(location.origin, path(), body);
    },
  };
}
