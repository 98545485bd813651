// Run history: of one flow (the editor's «Запуски»), or of every flow (the «Запуски» page, with a
// scenario filter); filters, «Скачать CSV» of what is filtered, «Показать ещё» by cursor.
import { useCallback, useEffect, useMemo, useState } from 'react';
import { api, errorText } from '../api.js';
import { useI18n } from '../i18n.js';
import { Banner } from './common.jsx';
import { RunFilters } from './RunFilters.jsx';
import { RunItem } from './RunItem.jsx';
import { EMPTY_FILTERS, historyQuery, loadRuns } from '../runHistory.js';

/** `flowId` null with `flows` (the scenarios to filter by) is the history of every scenario. */
export function RunsPanel({ flowId, flows, initialFilters = EMPTY_FILTERS, nodeTypes, onSelectNode, onToast }) {
  const { t } = useI18n();
  const everyFlow = Array.isArray(flows);
  const [runs, setRuns] = useState(null);
  const [cursor, setCursor] = useState(null);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const [filters, setFilters] = useState(initialFilters);
  const query = useMemo(() => historyQuery(flowId, filters), [flowId, filters]);
  const filtered = Object.values(filters).some(Boolean);

  const load = useCallback(
    async (more) => {
      if (!flowId && !everyFlow) return;
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
    [flowId, everyFlow, query, t],
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

  if (!flowId && !everyFlow) return <p className="muted">{t('runs.unsaved')}</p>;
  const refresh = (
    <button type="button" className="btn btn-sm btn-ghost" onClick={() => load()} disabled={busy} data-testid="runs-refresh">
      {t('common.refresh')}
    </button>
  );
  return (
    <div className="runs-panel" data-testid="runs-panel">
      {!everyFlow && (
        <div className="field-row">
          <h2 className="panel-title">{t('runs.title')}</h2>
          {refresh}
        </div>
      )}
      <RunFilters filters={filters} onApply={setFilters} query={query} onError={setError} flows={flows}>
        {everyFlow && refresh}
      </RunFilters>
      {error && <Banner onClose={() => setError(null)}>{error}</Banner>}
      {runs && runs.length === 0 && (
        <p className="muted" data-testid="runs-empty">{t(filtered ? 'history.nothing' : 'runs.empty')}</p>
      )}
      <ul className="run-list">
        {(runs || []).map((run) => (
          <RunItem key={run.id} run={run} nodeTypes={nodeTypes} onSelectNode={onSelectNode} onRetry={retry} showFlow={everyFlow} />
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
