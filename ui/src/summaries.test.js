// Node card summaries: readable Russian (and English) instead of the raw params («3 · 24»).
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { nodeSummary, plural } from './summaries.js';

const schemasDir = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../plugin/schemas');

/** The catalog entry of `type`, with its real schema from plugin/schemas. */
function def(type) {
  const [kind, name] = type.split('.');
  const dir = { event: 'events', condition: 'conditions', action: 'actions', flow: 'flow' }[kind];
  const schema = JSON.parse(fs.readFileSync(path.join(schemasDir, dir, `${name}.json`), 'utf8'));
  return { type, kind, title: { ru: schema.title, en: schema['x-title-en'] }, schema };
}

const ru = (type, params) => nodeSummary(def(type), params, 'ru').replace(/\u00a0/g, ' ');

describe('node summaries', () => {
  it('says when an N-days event fires, not «3 · 24»', () => {
    expect(ru('event.order_days_since_created', { days: 3, catch_up_hours: 24 })).toBe('Через 3 дня после создания');
    expect(ru('event.order_days_since_created', { days: 1 })).toBe('Через 1 день после создания');
    expect(ru('event.order_days_since_paid', { days: 11 })).toBe('Через 11 дней после оплаты');
    expect(ru('event.order_days_since_paid', { days: 0 })).toBe('Сразу после оплаты');
    expect(nodeSummary(def('event.order_days_since_created'), { days: 3 }, 'en')).toBe('3 days after creation');
  });

  it('shows conditions as «field operator value»', () => {
    expect(ru('condition.order_price', { operator: 'gt', value: 10000 })).toBe('Сумма заказа > 10 000');
    expect(ru('condition.client_orders_count', { operator: 'gte', value: 2 })).toBe('Количество заказов ≥ 2');
    expect(ru('condition.visit_city', { operator: 'any_of', value: ['Москва', 'Тула'] })).toBe('Город: любое из: Москва, Тула');
    expect(ru('condition.visit_utm', { tag: 'utm_source', operator: 'contains', value: 'yandex' })).toBe('utm_source: содержит «yandex»');
    expect(ru('condition.visit_roistat_param', { index: 2, operator: 'is_empty' })).toBe('roistat_param_2: пусто');
    expect(ru('condition.order_status', { operator: 'in', value: ['Новая', 'В работе'] })).toBe('Статус: Новая, В работе');
    expect(ru('condition.order_created_age', { operator: 'older_than_days', value: 5 })).toBe('Дата создания заказа старше 5 дней');
    expect(ru('condition.event_data', { path: 'form.amount', operator: 'lte', value: 5 })).toBe('form.amount ≤ 5');
    expect(ru('condition.order_price', { operator: 'gt' })).toBe('Сумма заказа > …');
  });

  it('shows what an action sends: the subject, the start of the text, the host', () => {
    const email = { smtp_host: 'smtp.example.com', security: 'ssl', from_email: 'a@b.ru', subject: 'Ваш заказ {order_id}', html: '<p>x</p>' };
    expect(ru('action.email', email)).toBe('Тема: Ваш заказ {order_id}');
    expect(ru('action.slack', { text: 'Новая сделка\n{order_id} на {order_price}', webhook_url: '********' })).toBe('Новая сделка {order_id} на {order_price}');
    expect(ru('action.webhook', { url: 'https://crm.example.com/hooks/1?x=1', method: 'POST', headers: {} })).toBe('POST crm.example.com');
    expect(ru('action.telegram', { chat_id: 1, text: 'x'.repeat(200) })).toHaveLength(80);
    expect(ru('flow.delay', { amount: 2, unit: 'hours' })).toBe('Ждать 2 часа');
    expect(ru('flow.delay', { amount: 5, unit: 'minutes' })).toBe('Ждать 5 минут');
  });

  it('describes the other events', () => {
    expect(ru('event.order_status_changed', { to: ['Оплачено'], from: [] })).toBe('в Оплачено');
    expect(ru('event.order_status_changed', { to: [], from: [] })).toBe('Любая смена статуса');
    expect(ru('event.custom', { name: 'form_sent' })).toBe('Событие «form_sent»');
    expect(ru('event.visit_created', {})).toBe('');
  });

  it('picks Russian plural forms', () => {
    const forms = 'день|дня|дней';
    expect([1, 2, 5, 11, 12, 21, 22, 25, 101, 111].map((n) => plural('ru', n, forms))).toEqual(['день', 'дня', 'дней', 'дней', 'дней', 'день', 'дня', 'дней', 'день', 'дней']);
    expect(plural('en', 1, 'day|days|days')).toBe('day');
  });
});
