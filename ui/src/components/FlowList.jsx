// «Сценарии»: the scenario list with search, filters, sortable columns, status toggles, bulk on/off,
// trigger counts and the last 7 days, «Дублировать», import/export and delete.
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { api, errorText } from '../api.js';
import { EMPTY_FILTERS, allTags, filterFlows, nextSort, sortFlows } from '../flowFilter.js';
import { useI18n } from '../i18n.js';
import { navigate } from '../router.js';
import { Banner, ConfirmDialog } from './common.jsx';
import { BulkBar, FlowListFilters } from './FlowListFilters.jsx';
import { FlowTable } from './FlowTable.jsx';
import { ImportDialog } from './ImportDialog.jsx';
import { useFlowActions } from './useFlowActions.js';

export { problemSummary } from './useFlowActions.js';

const POLL_MS = 5000;

export function FlowList({ onToast }) {
  const { t } = useI18n();
  const [flows, setFlows] = useState(null);
  const [error, setError] = useState(null);
  const [importing, setImporting] = useState(false);
  const [filters, setFilters] = useState(EMPTY_FILTERS);
  const [sort, setSort] = useState('');
  const [selected, setSelected] = useState(() => new Set());
  const pending = useRef(new Set());

  const load = useCallback(async () => {
    try {
      const list = await api.flows(sort);
      // A toggle still on its way keeps the value the user chose.
      setFlows((prev) =>
        list.map((f) => {
          if (!pending.current.has(f.id)) return f;
          const old = prev?.find((p) => p.id === f.id);
          return old ? { ...f, enabled: old.enabled } : f;
        }),
      );
    } catch (err) {
      if (err.status !== 401) setError(errorText(err, t));
    }
  }, [t, sort]);
  const actions = useFlowActions({ pending, setFlows, setError, load, onToast, t });

  useEffect(() => {
    load();
    const id = setInterval(() => {
      if (document.visibilityState !== 'hidden') load();
    }, POLL_MS);
    return () => clearInterval(id);
  }, [load]);

  const shown = useMemo(() => (flows ? sortFlows(filterFlows(flows, filters), sort) : null), [flows, filters, sort]);
  const eventTypes = useMemo(() => [...new Set((flows || []).map((f) => f.event_type).filter(Boolean))].sort(), [flows]);
  const tags = useMemo(() => allTags(flows || []), [flows]);
  // a selection is of the rows shown: a filter that hides a row unselects it
  const chosen = shown ? shown.filter((f) => selected.has(f.id)).map((f) => f.id) : [];

  return (
    <div className="page page-wide">
      <div className="page-head">
        <h1 className="page-title">{t('list.tabScenarios')}</h1>
        <div className="page-actions">
          <button type="button" className="btn" onClick={() => setImporting(true)} data-testid="import-open">
            {t('list.import')}
          </button>
          <button type="button" className="btn btn-primary" onClick={() => navigate('#/flows/new')} data-testid="flow-add">
            {t('list.add')}
          </button>
        </div>
      </div>
      {error && (
        <Banner onClose={() => setError(null)} testId="list-error">
          {error}
        </Banner>
      )}
      <FlowListFilters filters={filters} setFilters={setFilters} eventTypes={eventTypes} tags={tags} shown={shown?.length ?? 0} total={flows?.length ?? 0} />
      <BulkBar count={chosen.length} busy={actions.busy} onSwitch={(on) => actions.bulk(chosen, on)} />
      <div className="card table-card">
        <FlowTable
          flows={shown}
          total={flows?.length ?? 0}
          sort={sort}
          onSort={(column) => setSort((s) => nextSort(s, column))}
          selected={selected}
          setSelected={setSelected}
          actions={actions}
          onTag={(tag) => setFilters((f) => ({ ...f, tag }))}
        />
      </div>
      {actions.confirmDelete && (
        <ConfirmDialog
          title={t('list.deleteTitle')}
          text={t('list.deleteText', { name: actions.confirmDelete.name })}
          confirmLabel={t('common.delete')}
          danger
          onConfirm={actions.doDelete}
          onCancel={() => actions.askDelete(null)}
        />
      )}
      {importing && (
        <ImportDialog
          onClose={() => setImporting(false)}
          onImported={(list) => {
            setImporting(false);
            onToast('list.imported', { count: list.length });
            load();
          }}
        />
      )}
    </div>
  );
}
