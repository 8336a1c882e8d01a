import { ApiError } from '../lib/api.js';
import { h } from '../lib/dom.js';

/** What to tell a person for each stable error code of the API; the server's message follows. */
const FRIENDLY: Record<string, string> = {
  network: 'Couldn’t reach the Vigil server. Check that it is still running, then try again.',
  invalid_input: 'The model couldn’t take that input.',
  invalid_json: 'The request was not valid JSON.',
  invalid_request: 'The request was not in the shape the model expects.',
  payload_too_large: 'That input is too large for this server.',
  too_many_inputs: 'Too many inputs in one request.',
  model_not_found: 'This model isn’t loaded on the server.',
  model_not_ready: 'The model is still loading. Try again in a few seconds.',
  overloaded: 'The server is busy right now and turned the request away rather than making it wait. Try again in a moment.',
  deadline_exceeded: 'The model took too long to answer.',
  not_configured: 'The API model isn’t configured on this server, so there is nothing to call.',
  upstream_timeout: 'The API model took too long to answer. Try again in a moment.',
  upstream_rate_limited: 'The API provider is rate-limiting this server. Wait a little and try again.',
  upstream_unavailable: 'The API provider is unavailable right now. Try again later.',
  upstream_error: 'The API provider answered with an error.',
  auth_failed: 'The API provider rejected this server’s credentials. An operator needs to check the token.',
  circuit_open: 'After repeated failures Vigil is giving the API provider a short break; calls resume by themselves shortly.',
};

export function friendlyMessage(code: string): string {
  return FRIENDLY[code] ?? 'Something went wrong.';
}

/** An alert box: the friendly sentence, then the server's own words and code for the curious. */
export function errorBox(error: unknown): HTMLElement {
  const api = error instanceof ApiError ? error : new ApiError(0, 'unexpected', (error as Error)?.message ?? String(error));
  return h(
    'div',
    { class: 'notice notice--error', role: 'alert', 'data-error-code': api.code },
    h('p', { class: 'notice__title' }, friendlyMessage(api.code)),
    h('p', { class: 'notice__detail' }, api.message, ' ', h('code', {}, api.status ? `${api.code} · HTTP ${api.status}` : api.code)),
  );
}
