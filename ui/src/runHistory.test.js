import { describe, expect, it } from 'vitest';
import { EMPTY_FILTERS, historyQuery } from './runHistory.js';
import { fromPercent, toPercent } from './editor/AlertSettings.jsx';

describe('historyQuery', () => {
  it('sends only the filters given, trimmed, with the period as whole local days', () => {
    expect(historyQuery('f1', EMPTY_FILTERS)).toBe('flow_id=f1');
    const q = new URLSearchParams(
      historyQuery('f1', { ...EMPTY_FILTERS, order_id: ' 42 ', recipient: 'anna@*', since: '2026-12-01', until: '2026-12-01' }),
    );
    expect(q.get('order_id')).toBe('42');
    expect(q.get('recipient')).toBe('anna@*');
    expect(q.has('status')).toBe(false);
    const day = new Date(q.get('until')) - new Date(q.get('since'));
    expect(day).toBe(24 * 3600 * 1000);
    expect(new Date(q.get('since')).getDate()).toBe(1);
  });
});

describe('alert share', () => {
  it('shows the share as a percent and keeps it within 1–100 %', () => {
    expect(toPercent(0.5)).toBe(50);
    expect(fromPercent('35')).toBe(0.35);
    expect(fromPercent('0')).toBe(0.01);
    expect(fromPercent('250')).toBe(1);
  });
});
