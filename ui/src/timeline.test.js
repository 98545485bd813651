import { describe, expect, it } from 'vitest';
import { timelineItems, visitSource } from './timeline.js';
import { parseHash, clientHash } from './router.js';
import { EMPTY_FILTERS, filtersFrom, historyQuery } from './runHistory.js';

describe("a client's timeline", () => {
  it('merges every list newest first, each with its kind', () => {
    const items = timelineItems({
      orders: [{ id: 'o1', created_at: '2026-05-02T10:00:00' }],
      visits: [{ id: 'v1', created_at: '2026-05-01T09:00:00' }],
      events: [{ id: 'e1', name: 'lead', created_at: '2026-05-03T08:00:00' }],
      runs: [{ id: 'r1', created_at: '2026-05-02T10:00:01' }],
      status_changes: [{ order_id: 'o1', to: 'Оплачен', at: '2026-05-04T00:00:00' }],
      later: [{ id: 'x', created_at: '2026-04-01T00:00:00' }],
      note: 'not a list',
    });
    expect(items.map((i) => `${i.kind}:${i.item.id ?? i.item.order_id}`)).toEqual([
      'status:o1', 'event:e1', 'run:r1', 'order:o1', 'visit:v1', 'later:x',
    ]);
    expect(timelineItems(undefined)).toEqual([]);
  });
  it('says where a visit came from', () => {
    expect(visitSource({ utm_source: 'yandex', utm_medium: 'cpc' })).toBe('yandex / cpc');
    expect(visitSource({ landing_page: '/sale' })).toBe('/sale');
    expect(visitSource({})).toBe('');
  });
});

describe('the analytics addresses', () => {
  it('name the overview, the history with its filters and a client', () => {
    expect(parseHash('#/overview')).toEqual({ name: 'overview' });
    expect(parseHash('#/runs')).toEqual({ name: 'runs', search: '' });
    expect(parseHash('#/runs?client_id=c1&status=failed')).toEqual({ name: 'runs', search: 'client_id=c1&status=failed' });
    expect(parseHash(clientHash('анна/1'))).toEqual({ name: 'client', id: 'анна/1' });
    expect(parseHash('#/flows/f1')).toEqual({ name: 'editor', id: 'f1' });
  });
  it('carry the history filters, the scenario one too', () => {
    expect(filtersFrom('client_id=c1&status=failed&junk=1')).toEqual({ ...EMPTY_FILTERS, client_id: 'c1', status: 'failed' });
    expect(historyQuery(null, { ...EMPTY_FILTERS, flow_id: 'f2', status: 'failed' })).toBe('flow_id=f2&status=failed');
    expect(historyQuery('f1', { ...EMPTY_FILTERS, flow_id: 'f2' })).toBe('flow_id=f1');
  });
});
