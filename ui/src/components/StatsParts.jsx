// Pieces of «Статистика» and «Обзор»: the period picker, the totals, the conversions per branch.
import { useI18n } from '../i18n.js';
import { INTERVALS, PERIODS, WINDOWS, branchRows, conversionRate, formatMoney, formatNumber } from '../stats.js';
import { MIN_REACHED, formatLift, formatP, significanceByRow, splitVariants } from '../significance.js';
import '../styles/stats.css';

/** 7 / 30 / 90 days; with `interval`, by day or by hour; with `windowDays`, the conversion window. */
export function PeriodPicker({ period, onChange, withInterval = false, withWindow = false }) {
  const { t } = useI18n();
  const set = (patch) => onChange({ ...period, ...patch });
  return (
    <div className="period-picker" data-testid="stats-period">
      <div className="seg" role="group" aria-label={t('stats.period')}>
        {PERIODS.map((days) => (
          <button
            key={days} type="button" aria-pressed={period.days === days}
            className={`seg-btn${period.days === days ? ' active' : ''}`}
            onClick={() => set({ days })} data-testid={`stats-days-${days}`}
          >
            {t('stats.days', { days })}
          </button>
        ))}
      </div>
      {withInterval && (
        <div className="seg" role="group" aria-label={t('stats.interval')}>
          {INTERVALS.map((interval) => (
            <button
              key={interval} type="button" aria-pressed={period.interval === interval}
              className={`seg-btn${period.interval === interval ? ' active' : ''}`}
              onClick={() => set({ interval })} data-testid={`stats-interval-${interval}`}
            >
              {t(`stats.${interval}`)}
            </button>
          ))}
        </div>
      )}
      {withWindow && (
        <label className="period-window">
          {t('stats.window')}
          <select
            className="input input-sm" value={period.windowDays}
            onChange={(e) => set({ windowDays: Number(e.target.value) })} data-testid="stats-window"
          >
            {WINDOWS.map((d) => <option key={d} value={d}>{t('stats.windowDays', { days: d })}</option>)}
          </select>
        </label>
      )}
    </div>
  );
}

/** Number cards: `items` is [[key, value, kind]] with kind "money" for revenue. */
export function TotalCards({ items, testId = 'stats-totals' }) {
  const { t, lang } = useI18n();
  return (
    <dl className="total-cards" data-testid={testId}>
      {items.map(([key, value, kind]) => (
        <div key={key} className={`total-card total-${key}`}>
          <dt title={t(`stats.${key}`)}>{t(`stats.${key}`)}</dt>
          <dd data-testid={`total-${key}`}>{kind === 'money' ? formatMoney(value, lang) : formatNumber(value, lang)}</dd>
        </div>
      ))}
    </dl>
  );
}

/** A variant's «Значимость» against the best one (significance.js); nothing for a row that is no variant. */
function SignificanceCell({ hint, rowKey }) {
  const { t, lang } = useI18n();
  if (!hint) return <td className="sig" data-testid={`sig-${rowKey}`} />;
  const tested = hint.kind === 'significant' || hint.kind === 'chance';
  const title = hint.kind === 'few' ? t('stats.sig.fewTitle', { min: MIN_REACHED }) : undefined;
  return (
    <td className={`sig sig-${hint.kind}`} data-testid={`sig-${rowKey}`} data-kind={hint.kind} title={title}>
      {t(`stats.sig.${hint.kind}`, tested ? { p: formatP(hint.p, lang) } : undefined)}
      {tested && hint.lift !== null && (
        <span className="sig-lift muted">{t('stats.sig.lift', { lift: formatLift(hint.lift, lang), against: hint.against })}</span>
      )}
    </td>
  );
}

/** Per branch of the scenario: label, reached, converted, the share, revenue; with `nodes` (the
 * flow document's) holding an A/B split whose variants have data, the significance of each. */
export function BranchTable({ byBranch, nodes }) {
  const { t, lang } = useI18n();
  const rows = branchRows(byBranch);
  if (!rows.length) return <p className="muted small" data-testid="branches-empty">{t('stats.noBranches')}</p>;
  const hints = significanceByRow(rows, splitVariants(nodes, rows));
  return (
    <>
      <table className="stats-table" data-testid="branch-table">
        <thead>
          <tr>
            <th scope="col">{t('stats.branch')}</th>
            <th scope="col" className="num">{t('stats.clients_reached')}</th>
            <th scope="col" className="num">{t('stats.converted')}</th>
            <th scope="col" className="num">{t('stats.rate')}</th>
            <th scope="col" className="num">{t('stats.revenue')}</th>
            {hints && <th scope="col" data-testid="sig-head">{t('stats.significance')}</th>}
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={r.key} data-testid={`branch-${r.key}`}>
              <th scope="row">{r.label}</th>
              <td className="num">{formatNumber(r.clients_reached, lang)}</td>
              <td className="num">{formatNumber(r.converted, lang)}</td>
              <td className="num">{conversionRate(r.converted, r.clients_reached, lang)}</td>
              <td className="num">{formatMoney(r.revenue, lang)}</td>
              {hints && <SignificanceCell hint={hints[r.key]} rowKey={r.key} />}
            </tr>
          ))}
        </tbody>
      </table>
      {hints && <p className="muted small" data-testid="sig-hint">{t('stats.sigHint')}</p>}
    </>
  );
}
