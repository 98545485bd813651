// The test panel's pure parts: where a JSON text is wrong, the context of a stored record, which
// records an event type is tested on, and the sample form's fields and the context they make.
import { messages, translate } from './i18n.js';

/** Null when `text` is a JSON object; else the message key and its variables (line, column). */
export function jsonProblem(text) {
  let value;
  try {
    value = JSON.parse(text);
  } catch (err) {
    const m = /position (\d+)/.exec(err?.message || '');
    const at = m ? Number(m[1]) : /end of JSON/i.test(err?.message || '') ? text.length : null;
    if (at === null) return { key: 'tryout.badJsonNoPlace' };
    const before = text.slice(0, at).split('\n');
    return { key: 'tryout.badJson', vars: { line: before.length, column: before[before.length - 1].length + 1 } };
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) return { key: 'tryout.notObject' };
  return null;
}

/** Which stored records a flow's event is tested on: "order", "visit" or "event". */
export function recordKind(eventType) {
  if (eventType === 'event.visit_created') return 'visit';
  if (eventType === 'event.custom') return 'event';
  return 'order';
}

/** The body key of a dry run (or a test message) on a stored record of `kind`. */
export const SUBJECT_KEYS = { order: 'order_id', visit: 'visit_id', event: 'custom_event_id' };

const without = (obj, ...keys) => Object.fromEntries(Object.entries(obj || {}).filter(([k]) => !keys.includes(k)));

/** The run context shown for a record of the read API (the dry run builds the exact one). */
export function recordContext(kind, rec) {
  if (kind === 'order') return { visit: rec.visit || null, order: without(rec, 'client', 'visit'), client: rec.client || null, event: null };
  if (kind === 'visit') return { visit: without(rec, 'client'), order: null, client: rec.client || null, event: null };
  return { visit: null, order: null, client: rec.client || null, event: { id: rec.id, meta_id: rec.name, data: rec.data || {} } };
}

/** A record's one-line label: what it is, then its client. */
export function recordLabel(kind, rec, t) {
  const what =
    kind === 'order' ? t('tryout.order', { id: rec.id }) : kind === 'visit' ? t('tryout.visit', { id: rec.id }) : t('tryout.event', { id: rec.id, name: rec.name });
  const c = rec.client;
  const who = c ? [c.name, c.phone, c.email].filter(Boolean).join(', ') || c.external_id : t('tryout.noClient');
  const extra = kind === 'order' ? [rec.price != null ? `${rec.price} ₽` : null, rec.status].filter(Boolean).join(', ') : kind === 'visit' ? rec.city || '' : '';
  return { what, who, extra };
}

const GROUPS = {
  order: ['order_id', 'price', 'status'],
  client: ['client_name', 'phone', 'email'],
  visit: ['city', 'utm_source', 'landing_page'],
  event: ['event_name', 'event_data'],
};

/** The sample form's groups of fields for an event type. */
export function sampleGroups(eventType) {
  const kind = recordKind(eventType);
  if (kind === 'order') return ['order', 'client', 'visit'].map((g) => [g, GROUPS[g]]);
  if (kind === 'visit') return ['visit', 'client'].map((g) => [g, GROUPS[g]]);
  return ['event', 'client', 'visit'].map((g) => [g, GROUPS[g]]);
}

export const SAMPLE_VALUES = {
  order_id: '100',
  price: '12000',
  status: 'Новая',
  client_name: 'Иван Петров',
  phone: '79012223344',
  email: 'ivan@example.com',
  city: 'Москва',
  utm_source: 'yandex',
  landing_page: 'site.com/test/page',
  event_name: 'form_submit',
  event_data: '{"form": "callback"}',
};

/** The context the sample form's `values` make for an event type; an unparsable event data is `{}`. */
export function sampleContext(eventType, values) {
  const v = (k) => (values[k] === undefined || values[k] === '' ? null : values[k]);
  const groups = new Set(sampleGroups(eventType).map(([g]) => g));
  const price = v('price') === null ? null : Number(String(v('price')).replace(',', '.').replace(/\s/g, ''));
  let data = {};
  try {
    data = JSON.parse(values.event_data || '{}');
  } catch {
    data = {};
  }
  return {
    visit: groups.has('visit') ? { id: '12345', city: v('city'), utm_source: v('utm_source'), landing_page: v('landing_page') } : null,
    order: groups.has('order') ? { id: v('order_id'), price: Number.isFinite(price) ? price : null, status: v('status') } : null,
    client: { external_id: '2', name: v('client_name'), phone: v('phone'), email: v('email') },
    event: groups.has('event') ? { id: 'e-1', meta_id: v('event_name'), name: v('event_name'), data } : null,
  };
}

/** A run's trigger (event, schedule, direct, test) in `lang`; an unknown one as it is. */
export function triggerLabel(lang, trigger) {
  return messages[`trigger.${trigger}`] ? translate(lang, `trigger.${trigger}`) : String(trigger);
}
