import type { FastifyInstance } from 'fastify';
import { InvalidInput, VigilError } from '../../errors.js';
import type { FeedbackItem } from '../../observability/model-monitor.js';
import type { ServerContext } from '../context.js';
import { feedback as schemas } from '../schemas/json-api.js';

/**
 * POST /v1/feedback: delayed labels for earlier predictions, joined by the `request_id` the
 * predict answer carried (and `index` within a batch request).
 *
 *   {"request_id": "...", "index"?: 0, "label": "spam"}        classifiers
 *   {"request_id": "...", "index"?: 0, "value": 1.7}           regression
 *   {"feedback": [ ...items as above... ]}                      up to MAX_FEEDBACK_ITEMS, all or none
 */

export const MAX_FEEDBACK_ITEMS = 1000;
const ITEM_FIELDS = new Set(['request_id', 'index', 'label', 'value']);

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const describeType = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v);

/** Checks one item's shape; the prediction log checks the rest (known id, label of the model). */
export function parseFeedbackItem(raw: unknown, field: string): FeedbackItem {
  const name = (key: string) => `${field}${key}`;
  if (!isObject(raw)) throw new InvalidInput(`${field ? `"${field.replace(/\.$/, '')}"` : 'the body'} must be a JSON object with "request_id" and "label" (classifiers) or "value" (regression)`, 'invalid_feedback');
  for (const key of Object.keys(raw)) {
    if (!ITEM_FIELDS.has(key)) throw new InvalidInput(`unknown field "${name(key)}" (expected request_id, index, label or value)`, 'invalid_feedback');
  }
  const requestId = raw.request_id;
  if (requestId === undefined) throw new InvalidInput(`missing field "${name('request_id')}": the request_id of the prediction's answer`, 'invalid_feedback');
  if (typeof requestId !== 'string' || requestId.trim() === '' || requestId.length > 200) {
    throw new InvalidInput(`"${name('request_id')}" must be a non-empty string of at most 200 characters, got ${describeType(requestId)}`, 'invalid_feedback');
  }
  const item: FeedbackItem = { requestId, field };
  if (raw.index !== undefined) {
    if (typeof raw.index !== 'number' || !Number.isInteger(raw.index) || raw.index < 0) {
      throw new InvalidInput(`"${name('index')}" must be a whole number >= 0 (the input's position in its request), got ${JSON.stringify(raw.index)}`, 'invalid_feedback');
    }
    item.index = raw.index;
  }
  if (raw.label !== undefined && raw.value !== undefined) throw new InvalidInput(`send either "${name('label')}" (classifiers) or "${name('value')}" (regression), not both`, 'invalid_feedback');
  if (raw.label !== undefined) {
    if (typeof raw.label !== 'string' || raw.label === '') throw new InvalidInput(`"${name('label')}" must be a non-empty string, got ${describeType(raw.label)}`, 'invalid_feedback');
    item.label = raw.label;
  } else if (raw.value !== undefined) {
    // JSON.parse turns 1e999 into Infinity: finite is checked, not just "a number".
    if (typeof raw.value !== 'number' || !Number.isFinite(raw.value)) throw new InvalidInput(`"${name('value')}" must be a finite number, got ${typeof raw.value === 'number' ? String(raw.value) : describeType(raw.value)}`, 'invalid_feedback');
    item.value = raw.value;
  } else {
    throw new InvalidInput(`missing field "${name('label')}" (classifiers) or "${name('value')}" (regression): the true answer for the prediction`, 'invalid_feedback');
  }
  return item;
}

export function parseFeedbackBody(body: unknown): { items: FeedbackItem[]; batch: boolean } {
  if (!isObject(body)) throw new InvalidInput('the body must be a JSON object: {"request_id", "label" | "value", "index"?} or {"feedback": [...]}', 'invalid_feedback');
  if ('feedback' in body) {
    const list = body.feedback;
    if (Object.keys(body).length > 1) throw new InvalidInput('send either one item or {"feedback": [...]}, not both', 'invalid_feedback');
    if (!Array.isArray(list)) throw new InvalidInput(`"feedback" must be an array of items, got ${describeType(list)}`, 'invalid_feedback');
    if (list.length === 0) throw new InvalidInput('"feedback" must not be empty', 'invalid_feedback');
    if (list.length > MAX_FEEDBACK_ITEMS) throw new InvalidInput(`"feedback" has ${list.length} items; at most ${MAX_FEEDBACK_ITEMS} are allowed per request`, 'too_many_inputs');
    return { items: list.map((raw, i) => parseFeedbackItem(raw, `feedback[${i}].`)), batch: true };
  }
  return { items: [parseFeedbackItem(body, '')], batch: false };
}

export async function feedbackRoutes(app: FastifyInstance, context: ServerContext): Promise<void> {
  app.post(
    '/v1/feedback',
    { schema: schemas },
    async (request, reply) => {
      const monitor = context.monitor;
      if (!monitor) throw new VigilError(503, 'monitoring_disabled', 'this server keeps no prediction log, so it cannot join labels');
      let parsed: ReturnType<typeof parseFeedbackBody>;
      try {
        parsed = parseFeedbackBody(request.body);
      } catch (error) {
        monitor.quality.rejected.inc({ reason: 'invalid' });
        throw error;
      }
      const { items, batch } = parsed;
      // The sender's address, for vigil_online_label_source_share (one client moving the gauges alone).
      const results = await monitor.feedback(items, request.ip);
      request.log.info({ feedback: results.length }, 'feedback recorded');
      return reply.send(batch ? { recorded: results } : results[0]);
    },
  );
}
