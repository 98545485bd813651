// Readable one-line summaries of a node's params for the canvas cards (issue #18): «Через 3 дня после
// создания сделки», «Сумма заказа > 10 000», the email's subject, the start of a message, a webhook's host.
// A type without its own rule falls back to the generic schemaUi.paramsSummary.
import { pick, translate } from './i18n.js';
import { paramsSummary } from './schemaUi.js';

const MAX = 80;
const SYMBOLS = { eq: '=', equals: '=', ne: '≠', not_equals: '≠', gt: '>', lt: '<', gte: '≥', lte: '≤' };

/** The plural form of `n` from «one|few|many» (Russian rules; English uses one|many). */
export function plural(lang, n, forms) {
  const [one, few, many] = forms.split('|');
  const abs = Math.abs(Number(n));
  if (lang !== 'ru') return abs === 1 ? one : many;
  const d10 = abs % 10;
  const d100 = abs % 100;
  if (d10 === 1 && d100 !== 11) return one;
  if (d10 >= 2 && d10 <= 4 && (d100 < 10 || d100 >= 20)) return few;
  return many;
}

function number(v, lang) {
  return typeof v === 'number' ? v.toLocaleString(lang === 'en' ? 'en-US' : 'ru-RU') : String(v);
}

function listText(v, lang) {
  if (Array.isArray(v)) return v.map((x) => number(x, lang)).join(', ');
  return v === undefined || v === null ? '' : number(v, lang);
}

function firstLine(s) {
  return String(s ?? '').replace(/\s+/g, ' ').trim();
}

function host(url) {
  try {
    return new URL(String(url)).host;
  } catch {
    return firstLine(url);
  }
}

function units(lang, key, n) {
  return plural(lang, n, translate(lang, `summary.${key}`));
}

/** «<what> <operator> <value>» for a condition. */
function conditionSummary(def, p, lang) {
  const what = p.tag || (def.type.endsWith('roistat_param') ? `roistat_param_${p.index ?? 1}` : p.path) || pick(def.title, lang);
  const op = p.operator;
  const value = listText(p.value, lang) || '…';
  if (SYMBOLS[op]) return `${what} ${SYMBOLS[op]} ${value}`;
  if (op === 'older_than_days' || op === 'newer_than_days') {
    return `${what} ${translate(lang, `summary.op.${op}`, { value, days: units(lang, 'day', p.value ?? 0) })}`;
  }
  if (op && translate(lang, `summary.op.${op}`) !== `summary.op.${op}`) return `${what}: ${translate(lang, `summary.op.${op}`, { value })}`;
  return '';
}

function eventSummary(type, p, lang) {
  if (type === 'event.order_days_since_created' || type === 'event.order_days_since_paid') {
    const which = type.endsWith('created') ? 'Created' : 'Paid';
    if (!p.days) return translate(lang, `summary.at${which}`);
    return translate(lang, `summary.daysAfter${which}`, { n: p.days, days: units(lang, 'day', p.days) });
  }
  if (type === 'event.order_status_changed') {
    const parts = [];
    if (p.from?.length) parts.push(translate(lang, 'summary.statusFrom', { from: p.from.join(', ') }));
    if (p.to?.length) parts.push(translate(lang, 'summary.statusTo', { to: p.to.join(', ') }));
    return parts.length ? parts.join(' ') : translate(lang, 'summary.anyStatusChange');
  }
  if (type === 'event.custom') return p.name ? translate(lang, 'summary.event', { name: p.name }) : translate(lang, 'summary.anyEvent');
  return null;
}

function actionSummary(type, p, lang) {
  if (type === 'action.email') return p.subject ? translate(lang, 'summary.subject', { subject: firstLine(p.subject) }) : '';
  if (type === 'action.webhook') return p.url ? `${p.method || 'POST'} ${host(p.url)}` : '';
  if (type === 'action.crm_task') return firstLine(p.text);
  if (['action.slack', 'action.telegram', 'action.sms'].includes(type)) return firstLine(p.text);
  if (type === 'flow.delay') {
    const key = { minutes: 'minute', hours: 'hour', days: 'day' }[p.unit] || 'minute';
    return translate(lang, 'summary.wait', { n: p.amount ?? 1, unit: units(lang, key, p.amount ?? 1) });
  }
  return null;
}

/** «любое из 2», «A 50 % · B 50 %»: a condition group's and an A/B split's cards. */
function journeySummary(type, p, lang) {
  if (type === 'condition.group') {
    const n = Array.isArray(p.conditions) ? p.conditions.length : 0;
    return translate(lang, `group.summary.${['all', 'any', 'none'].includes(p.mode) ? p.mode : 'all'}`, { n });
  }
  const variants = Array.isArray(p.variants) ? p.variants : [];
  const sum = variants.reduce((a, v) => a + (Number(v?.weight) > 0 ? Number(v.weight) : 0), 0);
  return variants.map((v) => `${v?.key ?? '?'} ${sum ? Math.round(((Number(v?.weight) || 0) / sum) * 100) : 0} %`).join(' · ');
}

/** The card's summary of a node of type `def` with `params`, in `lang`. */
export function nodeSummary(def, params, lang) {
  if (!def) return '';
  const p = params && typeof params === 'object' ? params : {};
  let s = null;
  if (def.type === 'condition.group' || def.type === 'flow.split') s = journeySummary(def.type, p, lang);
  else if (def.kind === 'condition' || def.type.startsWith('condition.')) s = 'operator' in p ? conditionSummary(def, p, lang) : null;
  else if (def.type.startsWith('event.')) s = eventSummary(def.type, p, lang);
  else s = actionSummary(def.type, p, lang);
  if (s === null || s === undefined) s = paramsSummary(def.schema, p, lang);
  return s.length > MAX ? `${s.slice(0, MAX - 1)}…` : s;
}
