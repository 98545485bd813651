import { describe, expect, it } from 'vitest';
import { unknownStatuses } from './statuses.js';
import { entryFor } from './components/Suppressions.jsx';

describe('status warnings', () => {
  const known = [{ name: 'Новая', group: 'in_work', orders: 3 }, { name: 'Оплачено', group: 'paid', orders: 1 }];

  it('names the statuses no order has had, ignoring case and blanks as the condition does', () => {
    expect(unknownStatuses(['Новая', ' оплачено ', 'Новя'], known)).toEqual(['Новя']);
  });

  it('warns about nothing while the statuses are unknown or none was seen yet', () => {
    expect(unknownStatuses(['Новя'], null)).toEqual([]);
    expect(unknownStatuses(['Новя'], [])).toEqual([]);
  });
});

describe('suppression entry', () => {
  it('sends an address with "@" as an email and anything else as a phone', () => {
    expect(entryFor(' Ivan@Example.ru ', 'email', ' жалоба ')).toEqual({ email: 'Ivan@Example.ru', channel: 'email', reason: 'жалоба' });
    expect(entryFor('8 912 345-67-89', 'all', '')).toEqual({ phone: '8 912 345-67-89', channel: 'all', reason: '' });
  });
});
