// A scenario's last 7 days in the list: a tiny SVG line of the daily runs (no chart library, so
// the list stays light) and the week's numbers beside it.
import { useI18n } from '../i18n.js';
import { sparkPoints } from '../stats.js';
import '../styles/stats.css';

const W = 64;
const H = 20;

export function WeekSpark({ flowId, week }) {
  const { t } = useI18n();
  const daily = week?.daily || [];
  const triggered = week?.triggered ?? 0;
  const failed = week?.failed ?? 0;
  const label = t('list.weekAria', { triggered, failed, daily: daily.join(', ') || '—' });
  return (
    <div className="week-spark" title={label} data-testid={`flow-week-${flowId}`} data-daily={daily.join(',')}>
      <svg width={W} height={H} viewBox={`0 0 ${W} ${H}`} role="img" aria-label={label}>
        <line x1="2" y1={H - 2} x2={W - 2} y2={H - 2} className="spark-base" />
        {daily.length > 0 && <polyline points={sparkPoints(daily, W, H)} className={`spark-line${failed ? ' spark-failing' : ''}`} />}
      </svg>
      <span className="week-numbers small">
        {triggered}
        {failed > 0 && <span className="text-danger"> · {t('list.failed', { count: failed })}</span>}
      </span>
    </div>
  );
}
