import { describe, expect, it } from 'vitest';
import { allTags, filterFlows, nextSort, parseTags, sortFlows } from './flowFilter.js';

const flows = [
  { id: 'a', name: 'Заказ крупный', enabled: true, event_type: 'event.order_created', tags: ['Продажи'], stats: { triggered: 9, failed: 3 }, created_at: '2026-01-01' },
  { id: 'b', name: 'Заказ обычный', enabled: false, event_type: 'event.order_created', tags: [], stats: { triggered: 0, failed: 0 }, created_at: '2026-01-02' },
  { id: 'c', name: 'Визит из Москвы', enabled: false, event_type: 'event.visit_created', tags: ['продажи', 'SEO'], stats: { triggered: 4, failed: 0 }, created_at: '2026-01-03' },
];
const ids = (list) => list.map((f) => f.id);
const none = { q: '', status: '', event: '', tag: '', hasErrors: false };

describe('the scenario list filters', () => {
  it('search ignores case in Cyrillic', () => {
    expect(ids(filterFlows(flows, { ...none, q: 'ЗАКАЗ' }))).toEqual(['a', 'b']);
    expect(ids(filterFlows(flows, { ...none, q: '  москв ' }))).toEqual(['c']);
  });
  it('status, event, tag and errors combine', () => {
    expect(ids(filterFlows(flows, { ...none, status: 'disabled', event: 'event.order_created' }))).toEqual(['b']);
    expect(ids(filterFlows(flows, { ...none, tag: 'ПРОДАЖИ' }))).toEqual(['a', 'c']);
    expect(ids(filterFlows(flows, { ...none, hasErrors: true }))).toEqual(['a']);
  });
  it('sorts by a column both ways, then by name', () => {
    expect(ids(sortFlows(flows, 'name'))).toEqual(['c', 'a', 'b']);
    expect(ids(sortFlows(flows, '-runs'))).toEqual(['a', 'c', 'b']);
    expect(ids(sortFlows(flows, 'status'))).toEqual(['c', 'b', 'a']);
    expect(ids(sortFlows(flows, ''))).toEqual(['a', 'b', 'c']);
    expect(nextSort('name', 'name')).toBe('-name');
    expect(nextSort('-name', 'name')).toBe('name');
    expect(nextSort('-name', 'runs')).toBe('runs');
  });
  it('lists every tag once and parses a typed list', () => {
    expect(allTags(flows)).toEqual(['Продажи', 'SEO']);
    expect(parseTags(' a, b ,, A , c')).toEqual(['a', 'b', 'c']);
  });
});
