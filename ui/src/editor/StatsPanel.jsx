// «Статистика» of a scenario (issue #19): runs per bucket by outcome, conversions and revenue by
// day, their totals and the conversions per branch, for the last 7 / 30 / 90 days.
import { useCallback, useEffect, useMemo, useState } from 'react';
import { errorText } from '../api.js';
import { useI18n } from '../i18n.js';
import { Banner } from '../components/common.jsx';
import { Chart } from '../components/Chart.jsx';
import { BranchTable, PeriodPicker, TotalCards } from '../components/StatsParts.jsx';
import { RUN_KEYS, conversionsOption, formatMoney, isEmpty, runsOption, statsQuery } from '../stats.js';
import { statsApi } from '../statsApi.js';

const FIRST_PERIOD = { days: 30, interval: 'day', windowDays: 7 };

/** `nodes`: the flow document's, for the A/B split's variants in «Конверсии по веткам». */
export function StatsPanel({ flowId, nodes }) {
  const { t, lang } = useI18n();
  const [period, setPeriod] = useState(FIRST_PERIOD);
  const [stats, setStats] = useState(null);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);

  const load = useCallback(async () => {
    if (!flowId) return;
    setBusy(true);
    try {
      setStats(await statsApi.flowStats(flowId, statsQuery(period)));
      setError(null);
    } catch (err) {
      if (err.status !== 401) setError(errorText(err, t));
    } finally {
      setBusy(false);
    }
  }, [flowId, period, t]);

  useEffect(() => {
    load();
  }, [load]);

  const interval = stats?.interval || period.interval;
  const runs = useMemo(() => runsOption(stats?.series, interval, t), [stats, interval, t]);
  const conv = useMemo(() => conversionsOption(stats?.conversions?.by_day, t, lang), [stats, t, lang]);

  if (!flowId) return <p className="muted">{t('stats.unsaved')}</p>;
  const totals = stats?.totals || {};
  const c = stats?.conversions || {};
  return (
    <div className="stats-panel" data-testid="stats-panel" aria-busy={busy}>
      <div className="field-row">
        <h2 className="panel-title">{t('panel.stats')}</h2>
        <button type="button" className="btn btn-sm btn-ghost" onClick={load} disabled={busy} data-testid="stats-refresh">
          {t('common.refresh')}
        </button>
      </div>
      <PeriodPicker period={period} onChange={setPeriod} withInterval withWindow />
      {error && <Banner onClose={() => setError(null)}>{error}</Banner>}
      {!stats && !error && <p className="muted" role="status">{t('app.loading')}</p>}
      {stats && isEmpty(stats) && <p className="stats-empty muted" data-testid="stats-empty">{t('stats.empty')}</p>}
      {stats && !isEmpty(stats) && (
        <>
          <TotalCards items={RUN_KEYS.map((k) => [k, totals[k]])} />
          <Chart
            option={runs} testId="chart-runs"
            label={t('stats.chartRuns', { ...totals, count: stats.series?.length ?? 0 })}
          />
          <h3 className="section-title stats-heading">{t('stats.convTitle')}</h3>
          <p className="muted small" data-testid="stats-window-hint">{t('stats.convHint', { days: c.window_days ?? period.windowDays })}</p>
          <TotalCards
            testId="conv-totals"
            items={[['clients_reached', c.clients_reached], ['converted', c.converted], ['revenue', c.revenue, 'money']]}
          />
          <Chart
            option={conv} testId="chart-conversions" height={180}
            label={t('stats.chartConv', { converted: c.converted ?? 0, revenue: formatMoney(c.revenue, lang) })}
          />
          <h3 className="section-title stats-heading">{t('stats.branchTitle')}</h3>
          <BranchTable byBranch={c.by_branch} nodes={nodes} />
        </>
      )}
    </div>
  );
}
