// «Обзор» (#/overview, issue #19): every scenario together over 7 / 30 / 90 days — the totals,
// runs by day, and the scenarios that fire most, fail most and bring the most revenue.
import { useCallback, useEffect, useMemo, useState } from 'react';
import { errorText } from '../api.js';
import { useI18n } from '../i18n.js';
import { flowHash } from '../router.js';
import { RUN_KEYS, formatMoney, formatNumber, periodRange, runsOption } from '../stats.js';
import { statsApi } from '../statsApi.js';
import { Banner } from './common.jsx';
import { Chart } from './Chart.jsx';
import { PeriodPicker, TotalCards } from './StatsParts.jsx';

const TOPS = ['triggered', 'failed', 'revenue'];

export function Overview() {
  const { t } = useI18n();
  const [period, setPeriod] = useState({ days: 30 });
  const [data, setData] = useState(null);
  const [error, setError] = useState(null);

  const load = useCallback(async () => {
    try {
      setData(await statsApi.overview(new URLSearchParams(periodRange(period.days)).toString()));
      setError(null);
    } catch (err) {
      if (err.status !== 401) setError(errorText(err, t));
    }
  }, [period, t]);

  useEffect(() => {
    load();
  }, [load]);

  const option = useMemo(() => runsOption(data?.series, 'day', t), [data, t]);
  const totals = data?.totals || {};
  const quiet = data && RUN_KEYS.every((k) => !totals[k]);
  return (
    <div className="page overview" data-testid="overview">
      <div className="page-head">
        <h1 className="page-title">{t('overview.title')}</h1>
        <div className="page-actions">
          <a className="btn" href="#/runs" data-testid="overview-runs">{t('overview.allRuns')}</a>
          <button type="button" className="btn" onClick={load} data-testid="overview-refresh">{t('common.refresh')}</button>
        </div>
      </div>
      <PeriodPicker period={period} onChange={setPeriod} />
      {error && <Banner onClose={() => setError(null)}>{error}</Banner>}
      {!data && !error && <p className="muted" role="status">{t('app.loading')}</p>}
      {data && (
        <>
          <TotalCards
            testId="overview-totals"
            items={[...RUN_KEYS.map((k) => [k, totals[k]]), ['converted', totals.converted], ['revenue', totals.revenue, 'money']]}
          />
          <section className="card overview-chart">
            <h2 className="section-title">{t('overview.daily')}</h2>
            {quiet ? (
              <p className="muted stats-empty" data-testid="overview-empty">{t('stats.empty')}</p>
            ) : (
              <Chart option={option} testId="chart-overview" height={260} label={t('stats.chartRuns', { ...totals, count: data.series?.length ?? 0 })} />
            )}
          </section>
          <div className="top-lists">
            {TOPS.map((key) => (
              <TopList key={key} kind={key} items={data.top?.[key] || []} />
            ))}
          </div>
        </>
      )}
    </div>
  );
}

function TopList({ kind, items }) {
  const { t, lang } = useI18n();
  return (
    <section className="card top-list" data-testid={`top-${kind}`}>
      <h2 className="section-title">{t(`overview.top.${kind}`)}</h2>
      {items.length === 0 ? (
        <p className="muted small">{t('overview.noTop')}</p>
      ) : (
        <ol>
          {items.map((item) => (
            <li key={item.id}>
              <a href={flowHash(item.id)} data-testid={`top-${kind}-${item.id}`}>{item.name}</a>
              <span className={`top-value${kind === 'failed' ? ' text-danger' : ''}`}>
                {kind === 'revenue' ? formatMoney(item.value, lang) : formatNumber(item.value, lang)}
              </span>
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}
