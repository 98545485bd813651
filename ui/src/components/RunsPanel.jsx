// Run history of one flow: status, time, deal, client and recipient, filters and «Скачать CSV»,
// expandable steps, «Повторить» for failed runs.
import { useCallback, useEffect, useMemo, useState } from 'react';
import { api, errorText } from '../api.js';
import { useI18n } from '../i18n.js';
import { Banner, StatusBadge, formatTime } from './common.jsx';
import { StepList } from './Steps.jsx';
import { RunFilters, RunWho } from './RunFilters.jsx';
import { EMPTY_FILTERS, historyQuery, loadRuns } from '../runHistory.js';
import { triggerLabel } from '../tryout.js';

export function RunsPanel({ flowId, nodeTypes, onSelectNode, onToast }) {
  const { t, lang } = useI18n();
  const [runs, setRuns] = useState(null);
  const [cursor, setCursor] = useState(null);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const [filters, setFilters] = useState(EMPTY_FILTERS);
  const query = useMemo(() => historyQuery(flowId, filters), [flowId, filters]);
  const filtered = Object.values(filters).some(Boolean);

  const load = useCallback(
    async (more) => {
      if (!flowId) return;
      setBusy(true);
      try {
        const res = await loadRuns(query, more || undefined);
        setRuns((prev) => (more ? [...(prev || []), ...(res?.runs || [])] : res?.runs || []));
        setCursor(res?.next_cursor || null);
        setError(null);
      } catch (err) {
        setError(errorText(err, t));
      } finally {
        setBusy(false);
      }
    },
    [flowId, query, t],
  );

  useEffect(() => {
    load();
  }, [load]);

  const retry = async (run) => {
    try {
      await api.retryRun(run.id);
      onToast?.('runs.retried');
      load();
    } catch (err) {
      setError(errorText(err, t));
    }
  };

  if (!flowId) return <p className="muted">{t('runs.unsaved')}</p>;
  return (
    <div className="runs-panel" data-testid="runs-panel">
      <div className="field-row">
        <h2 className="panel-title">{t('runs.title')}</h2>
        <button type="button" className="btn btn-sm btn-ghost" onClick={() => load()} disabled={busy} data-testid="runs-refresh">
          {t('common.refresh')}
        </button>
      </div>
      <RunFilters filters={filters} onApply={setFilters} query={query} onError={setError} />
      {error && <Banner onClose={() => setError(null)}>{error}</Banner>}
      {runs && runs.length === 0 && (
        <p className="muted" data-testid="runs-empty">{t(filtered ? 'history.nothing' : 'runs.empty')}</p>
      )}
      <ul className="run-list">
        {(runs || []).map((run) => (
          <li key={run.id} className="run" data-testid={`run-${run.id}`} data-status={run.status}>
            <details>
              <summary aria-label={t('runs.showSteps', { time: formatTime(run.created_at, lang) })}>
                <StatusBadge status={run.status} />
                <span className="run-time">{formatTime(run.created_at, lang)}</span>
                {run.event_type && <code className="run-event">{run.event_type}</code>}
                <RunWho run={run} />
              </summary>
              <div className="run-body">
                {run.trigger && <div className="muted small" data-testid="run-trigger">{t('runs.trigger', { trigger: typeof run.trigger === 'string' ? triggerLabel(lang, run.trigger) : JSON.stringify(run.trigger) })}</div>}
                {run.finished_at && run.created_at && (
                  <div className="muted small">{t('runs.duration', { value: duration(run.created_at, run.finished_at) })}</div>
                )}
                {run.error && (run.status === 'suppressed' || run.status === 'cancelled') && (
                  <div className="run-suppressed" role="note" data-testid={`run-reason-${run.id}`}>
                    {t(`runs.${run.status}`, { reason: run.error })}
                  </div>
                )}
                {run.error && run.status !== 'suppressed' && run.status !== 'cancelled' && (
                  <div className="step-error" role="note">
                    {t('step.error', { message: run.error })}
                  </div>
                )}
                {run.next_attempt_at && !run.finished_at && (
                  <div className="muted small">{t('runs.nextAttempt', { time: formatTime(run.next_attempt_at, lang) })}</div>
                )}
                <StepList steps={run.steps} nodeTypes={nodeTypes} onSelectNode={onSelectNode} showAttempts />
              </div>
            </details>
            {run.status === 'failed' && (
              <button type="button" className="btn btn-sm" onClick={() => retry(run)} data-testid={`run-retry-${run.id}`}>
                {t('runs.retry')}
              </button>
            )}
          </li>
        ))}
      </ul>
      {cursor && (
        <button type="button" className="btn btn-sm" onClick={() => load(cursor)} disabled={busy} data-testid="runs-more">
          {t('common.loadMore')}
        </button>
      )}
    </div>
  );
}

function duration(a, b) {
  const ms = new Date(b) - new Date(a);
  if (!Number.isFinite(ms) || ms < 0) return '—';
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.round(ms / 60000)} min`;
}
