// «Запуски» (#/runs): the run history of every scenario, searchable by scenario, status, deal,
// client, recipient and period; the address's query sets the first filters (#/runs?client_id=c1).
import { useCallback, useMemo } from 'react';
import { api } from '../api.js';
import { useI18n } from '../i18n.js';
import { filtersFrom } from '../runHistory.js';
import { Banner } from './common.jsx';
import { RunsPanel } from './RunsPanel.jsx';
import { useLoadedList } from './useLoadedList.js';

export function RunHistoryPage({ search, onToast }) {
  const { t } = useI18n();
  const fetchFlows = useCallback(() => api.flows(), []);
  const { items: flows, error } = useLoadedList(fetchFlows, t);
  const initial = useMemo(() => filtersFrom(search), [search]);
  const named = useMemo(() => (flows || []).map((f) => ({ id: f.id, name: f.name })), [flows]);
  return (
    <div className="page run-history-page" data-testid="run-history">
      <div className="page-head">
        <h1 className="page-title">{t('runs.pageTitle')}</h1>
      </div>
      {error && <Banner>{error}</Banner>}
      {flows && <RunsPanel key={search} flows={named} initialFilters={initial} onToast={onToast} />}
    </div>
  );
}
