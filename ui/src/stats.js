// Scenario analytics (issue #19): the period asked of GET /api/v1/flows/{id}/stats and
// GET /api/v1/stats/overview, the ECharts options drawn from their answers, and the numbers beside.

export const PERIODS = [7, 30, 90];
export const INTERVALS = ['day', 'hour'];
export const WINDOWS = [1, 3, 7, 14, 30];
export const RUN_KEYS = ['triggered', 'succeeded', 'failed', 'suppressed', 'not_triggered'];
/** What the runs chart draws per bucket (succeeded is triggered less the rest, so it is left out). */
export const CHART_KEYS = ['triggered', 'failed', 'suppressed', 'not_triggered'];
export const COLORS = {
  triggered: '#2563eb',
  succeeded: '#1f8a4c',
  failed: '#c62828',
  suppressed: '#d97706',
  not_triggered: '#94a3b8',
  converted: '#0f766e',
  revenue: '#7c3aed',
};
const DAY_MS = 24 * 3600 * 1000;

/** `from`/`to` of the last `days` days up to `now`, as the API takes them. */
export function periodRange(days, now = new Date()) {
  return { from: new Date(now.getTime() - days * DAY_MS).toISOString(), to: now.toISOString() };
}

/** The query string of a scenario's stats: period, bucket size and conversion window. */
export function statsQuery({ days, interval = 'day', windowDays }, now = new Date()) {
  const q = new URLSearchParams(periodRange(days, now));
  q.set('interval', interval);
  if (windowDays) q.set('window_days', String(windowDays));
  return q.toString();
}

/** The label of a bucket: "12.05" for a day, "12.05 14:00" for an hour. A day is the server's own
 * (a plain date in its time zone, AUTOMATION_TIMEZONE), so its digits are read as they are; an
 * hour is an instant (UTC) and is shown in the browser's time. */
export function bucketLabel(t, interval) {
  const text = String(t ?? '');
  const pad = (n) => String(n).padStart(2, '0');
  if (interval === 'hour' && /T\d\d:\d\d.*([zZ]|[+-]\d\d:?\d\d)$/.test(text)) {
    const d = new Date(text);
    if (!Number.isNaN(d.getTime())) return `${pad(d.getDate())}.${pad(d.getMonth() + 1)} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
  }
  const m = /^(\d{4})-(\d\d)-(\d\d)(?:T(\d\d):(\d\d))?/.exec(text);
  if (!m) return text;
  const day = `${m[3]}.${m[2]}`;
  return interval === 'hour' ? `${day} ${m[4] ?? '00'}:${m[5] ?? '00'}` : day;
}

const locale = (lang) => (lang === 'en' ? 'en-GB' : 'ru-RU');

export function formatNumber(value, lang) {
  return Number(value || 0).toLocaleString(locale(lang), { maximumFractionDigits: 2 });
}

/** A moment in a narrow column: "12.05.26, 14:03" (local time), "—" for none. */
export function shortTime(value, lang) {
  const d = value ? new Date(value) : null;
  if (!d || Number.isNaN(d.getTime())) return value ? String(value) : '—';
  const parts = { year: '2-digit', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit' };
  return d.toLocaleString(locale(lang), parts);
}

/** Revenue in roubles: "15 000 ₽". */
export function formatMoney(value, lang) {
  return `${Number(value || 0).toLocaleString(locale(lang), { maximumFractionDigits: 0 })} ₽`;
}

/** The share of converted among reached as "12,5 %", or "—" when nobody was reached. */
export function conversionRate(converted, reached, lang) {
  if (!reached) return '—';
  const share = (100 * (converted || 0)) / reached;
  return `${share.toLocaleString(locale(lang), { maximumFractionDigits: 1 })} %`;
}

/** True when the answer has nothing to draw: no run of any kind and no conversion. */
export function isEmpty(stats) {
  const totals = stats?.totals || {};
  const conv = stats?.conversions || {};
  return RUN_KEYS.every((k) => !totals[k]) && !conv.clients_reached && !conv.converted && !conv.revenue;
}

/** The conversions per branch as table rows, in the server's order. */
export function branchRows(byBranch) {
  return Object.entries(byBranch || {}).map(([key, b]) => ({
    key,
    label: b?.label || key,
    clients_reached: b?.clients_reached ?? 0,
    converted: b?.converted ?? 0,
    revenue: b?.revenue ?? 0,
  }));
}

const AXIS = { axisLabel: { color: '#5f6b7d' }, axisLine: { lineStyle: { color: '#c3cad6' } } };
const BASE = {
  animation: false,
  tooltip: { trigger: 'axis' },
  legend: { top: 0, icon: 'roundRect', itemWidth: 12, itemHeight: 8, textStyle: { fontSize: 12 } },
  grid: { left: 8, right: 8, top: 34, bottom: 4, containLabel: true },
};

/** The runs chart: one line per kind of outcome (`t(key)` names each), per bucket. */
export function runsOption(series, interval, t) {
  const points = series || [];
  return {
    ...BASE,
    xAxis: { type: 'category', data: points.map((p) => bucketLabel(p.t, interval)), ...AXIS },
    yAxis: { type: 'value', minInterval: 1, ...AXIS },
    series: CHART_KEYS.map((key) => ({
      id: key,
      name: t(`stats.${key}`),
      type: 'line',
      data: points.map((p) => p[key] ?? 0),
      showSymbol: points.length <= 45,
      itemStyle: { color: COLORS[key] },
      lineStyle: { width: key === 'triggered' ? 2.5 : 1.5 },
    })),
  };
}

/** The conversions chart: conversions as bars (left axis) and revenue as a line (right axis, in
 * roubles written the `lang` way), by day. */
export function conversionsOption(byDay, t, lang = 'ru') {
  const days = byDay || [];
  const revenueAxis = { ...AXIS, axisLabel: { ...AXIS.axisLabel, formatter: (v) => formatNumber(v, lang) } };
  return {
    ...BASE,
    xAxis: { type: 'category', data: days.map((d) => bucketLabel(d.t, 'day')), ...AXIS },
    yAxis: [
      { type: 'value', minInterval: 1, ...AXIS },
      { type: 'value', splitLine: { show: false }, ...revenueAxis },
    ],
    series: [
      { id: 'converted', name: t('stats.converted'), type: 'bar', data: days.map((d) => d.converted ?? 0), itemStyle: { color: COLORS.converted }, barMaxWidth: 18 },
      {
        id: 'revenue', name: t('stats.revenue'), type: 'line', yAxisIndex: 1, data: days.map((d) => d.revenue ?? 0),
        itemStyle: { color: COLORS.revenue }, showSymbol: days.length <= 45, tooltip: { valueFormatter: (v) => formatMoney(v, lang) },
      },
    ],
  };
}

/** The points of a sparkline `width`×`height` (SVG polyline), one per value, the highest on top. */
export function sparkPoints(values, width, height, pad = 2) {
  const list = (values || []).map((v) => Number(v) || 0);
  if (!list.length) return '';
  const max = Math.max(...list, 1);
  const step = list.length > 1 ? (width - 2 * pad) / (list.length - 1) : 0;
  const round = (x) => Math.round(x * 10) / 10;
  return list.map((v, i) => `${round(pad + i * step)},${round(height - pad - ((height - 2 * pad) * v) / max)}`).join(' ');
}
