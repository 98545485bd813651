import { describe, expect, it } from 'vitest';
import { translate } from './i18n.js';
import { describeChange } from './versionChanges.js';

const byType = {
  'condition.order_price': {
    title: { ru: 'Сумма заказа', en: 'Deal amount' },
    schema: { properties: { value: { title: 'Сумма', 'x-title-en': 'Amount' } } },
  },
  'action.webhook': { title: { ru: 'Вебхук', en: 'Webhook' }, schema: { properties: {} } },
};
const ctx = (lang) => ({ byType, lang, t: (k, v) => translate(lang, k, v) });

describe('a version change as text', () => {
  it('names the node and the param by their titles, secrets stay masked', () => {
    const change = {
      kind: 'node_changed',
      node: 'big',
      type: 'condition.order_price',
      fields: [
        { name: 'params.value', from: 10000, to: 20000 },
        { name: 'params.secret', from: '********', to: '********' },
      ],
    };
    expect(describeChange(change, ctx('ru'))).toEqual({
      text: 'Изменён узел «Сумма заказа (big)»',
      details: ['Сумма: 10000 → 20000', 'secret: ******** → ********'],
    });
    expect(describeChange(change, ctx('en')).details[0]).toBe('Amount: 10000 → 20000');
  });
  it('writes links, names and empty values in Russian', () => {
    expect(describeChange({ kind: 'edge_added', from: 'big', to: 'hook', branch: 'false' }, { ...ctx('ru'), nodeTypes: { big: 'condition.order_price', hook: 'action.webhook' } }).text).toBe(
      'Новая связь «Сумма заказа (big)» → «Вебхук (hook)» (ветка «нет»)',
    );
    expect(describeChange({ kind: 'name', from: 'А', to: 'Б' }, ctx('ru')).text).toBe('Название: «А» → «Б»');
    expect(describeChange({ kind: 'tags', from: [], to: ['VIP'] }, ctx('ru')).text).toBe('Метки: (пусто) → VIP');
    expect(describeChange({ kind: 'created' }, ctx('ru')).text).toBe('Сценарий создан');
  });
});
