import { describe, expect, it } from 'vitest';
import { messages, translate } from './i18n.js';
import {
  CHART_KEYS, RUN_KEYS, branchRows, bucketLabel, conversionRate, conversionsOption, formatMoney,
  isEmpty, periodRange, runsOption, shortTime, sparkPoints, statsQuery,
} from './stats.js';
import { sortFlows } from './flowFilter.js';

const t = (key, vars) => translate('ru', key, vars);

describe('the period asked of the stats API', () => {
  it('is the last N days up to now, with the bucket size and conversion window', () => {
    const now = new Date('2026-05-31T12:00:00Z');
    expect(periodRange(7, now)).toEqual({ from: '2026-05-24T12:00:00.000Z', to: '2026-05-31T12:00:00.000Z' });
    const q = new URLSearchParams(statsQuery({ days: 90, interval: 'hour', windowDays: 14 }, now));
    expect(q.get('from')).toBe('2026-03-02T12:00:00.000Z');
    expect(q.get('interval')).toBe('hour');
    expect(q.get('window_days')).toBe('14');
  });
});

describe('bucket labels', () => {
  it("read a day as the server's date, so it never moves to the evening before", () => {
    expect(bucketLabel('2026-05-12', 'day')).toBe('12.05');
    expect(bucketLabel('2026-05-12T00:00:00Z', 'day')).toBe('12.05');
    expect(bucketLabel('not a time', 'day')).toBe('not a time');
  });
  it("show an hour (a UTC instant) in the browser's time", () => {
    const at = new Date('2026-05-12T11:00:00Z');
    const pad = (n) => String(n).padStart(2, '0');
    const local = `${pad(at.getDate())}.${pad(at.getMonth() + 1)} ${pad(at.getHours())}:${pad(at.getMinutes())}`;
    expect(bucketLabel('2026-05-12T11:00:00Z', 'hour')).toBe(local);
    expect(bucketLabel('2026-05-12T11:00:00', 'hour')).toBe('12.05 11:00');
  });
});

describe('chart options', () => {
  const series = [
    { t: '2026-05-11T00:00:00Z', triggered: 3, succeeded: 2, failed: 1, suppressed: 0, not_triggered: 5 },
    { t: '2026-05-12T00:00:00Z', triggered: 0, succeeded: 0, failed: 0, suppressed: 2 },
  ];
  it('draws one named line per outcome, zero for a missing number', () => {
    const option = runsOption(series, 'day', t);
    expect(option.xAxis.data).toEqual(['11.05', '12.05']);
    expect(option.series.map((s) => s.id)).toEqual(CHART_KEYS);
    expect(option.series.map((s) => s.name)).toEqual(['Срабатываний', 'Ошибок', 'Подавлено', 'Не сработало']);
    expect(option.series.find((s) => s.id === 'not_triggered').data).toEqual([5, 0]);
    expect(option.series.find((s) => s.id === 'failed').data).toEqual([1, 0]);
    expect(runsOption(undefined, 'day', t).series[0].data).toEqual([]);
  });
  it('draws conversions as bars and revenue on its own axis', () => {
    const option = conversionsOption([{ t: '2026-05-12', converted: 2, revenue: 15500 }], t);
    expect(option.series.map((s) => [s.id, s.type, s.yAxisIndex ?? 0, s.data])).toEqual([
      ['converted', 'bar', 0, [2]],
      ['revenue', 'line', 1, [15500]],
    ]);
    expect(option.yAxis[1].axisLabel.formatter(15000)).toBe('15\u00a0000');
    expect(option.series[1].tooltip.valueFormatter(15000)).toBe('15\u00a0000 ₽');
  });
});

describe('the numbers beside the charts', () => {
  it('format money and the conversion share in Russian', () => {
    expect(formatMoney(15000, 'ru')).toBe('15\u00a0000 ₽');
    expect(conversionRate(1, 8, 'ru')).toBe('12,5 %');
    expect(conversionRate(0, 0, 'ru')).toBe('—');
    expect(shortTime(null, 'ru')).toBe('—');
    expect(shortTime('2026-05-12T10:00:00', 'ru')).toMatch(/^12\.05\.26, \d\d:\d\d$/);
  });
  it('list the branches in the server order, the key standing in for a missing label', () => {
    const rows = branchRows({ true: { label: 'Да', clients_reached: 4, converted: 1, revenue: 900 }, A: { clients_reached: 2 } });
    expect(rows).toEqual([
      { key: 'true', label: 'Да', clients_reached: 4, converted: 1, revenue: 900 },
      { key: 'A', label: 'A', clients_reached: 2, converted: 0, revenue: 0 },
    ]);
    expect(branchRows(undefined)).toEqual([]);
  });
  it('call an answer without runs or conversions empty', () => {
    expect(isEmpty({ totals: { triggered: 0, failed: 0 }, conversions: { converted: 0 } })).toBe(true);
    expect(isEmpty({ totals: { not_triggered: 1 }, conversions: {} })).toBe(false);
    expect(isEmpty({ totals: {}, conversions: { revenue: 10 } })).toBe(false);
    expect(isEmpty(null)).toBe(true);
  });
  it('have a label for every key the UI builds', () => {
    for (const key of [...RUN_KEYS, 'clients_reached', 'converted', 'revenue', 'day', 'hour']) expect(messages[`stats.${key}`], key).toBeTruthy();
    for (const key of ['triggered', 'failed', 'revenue']) expect(messages[`overview.top.${key}`], key).toBeTruthy();
    for (const key of ['order', 'visit', 'event', 'status', 'run']) expect(messages[`timeline.${key}`], key).toBeTruthy();
    expect(messages['panel.stats'].ru).toBe('Статистика');
  });
});

describe('the sparkline', () => {
  it('puts the highest day on top and a quiet week on the base line', () => {
    expect(sparkPoints([0, 2, 1], 22, 12)).toBe('2,10 11,2 20,6');
    expect(sparkPoints([0, 0], 10, 10)).toBe('2,8 8,8');
    expect(sparkPoints([], 10, 10)).toBe('');
  });
});

describe('sorting by the last trigger', () => {
  it('puts scenarios that never fired first, as the server does', () => {
    const flows = [
      { id: 'late', name: 'b', created_at: '2026-01-01', stats: { last_triggered_at: '2026-05-02T10:00:00' } },
      { id: 'never', name: 'c', created_at: '2026-01-05', stats: { last_triggered_at: null } },
      { id: 'early', name: 'a', created_at: '2026-01-02', stats: { last_triggered_at: '2026-05-01T10:00:00' } },
    ];
    expect(sortFlows(flows, 'last_triggered').map((f) => f.id)).toEqual(['never', 'early', 'late']);
    expect(sortFlows(flows, '-last_triggered').map((f) => f.id)).toEqual(['late', 'early', 'never']);
  });
});
