// «Сценарии»: the scenario list with status toggles, trigger counts, import/export, delete.
import { useCallback, useEffect, useRef, useState } from 'react';
import { api, downloadJson, errorText, exportFileName } from '../api.js';
import { useI18n } from '../i18n.js';
import { flowHash, navigate } from '../router.js';
import { Banner, ConfirmDialog, Toggle, formatTime } from './common.jsx';
import { ImportDialog } from './ImportDialog.jsx';

const POLL_MS = 5000;

export function FlowList({ onToast }) {
  const { t, lang } = useI18n();
  const [flows, setFlows] = useState(null);
  const [error, setError] = useState(null);
  const [confirmDelete, setConfirmDelete] = useState(null);
  const [importing, setImporting] = useState(false);
  const pending = useRef(new Set());

  const load = useCallback(async () => {
    try {
      const list = await api.flows();
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
  }, [t]);

  useEffect(() => {
    load();
    const id = setInterval(() => {
      if (document.visibilityState !== 'hidden') load();
    }, POLL_MS);
    return () => clearInterval(id);
  }, [load]);

  const toggle = async (flow, enabled) => {
    pending.current.add(flow.id);
    setFlows((fs) => fs.map((f) => (f.id === flow.id ? { ...f, enabled } : f)));
    try {
      const updated = await api.patchFlow(flow.id, { enabled });
      setFlows((fs) => fs.map((f) => (f.id === flow.id ? { ...f, enabled: updated?.enabled ?? enabled } : f)));
      setError(null);
    } catch (err) {
      setFlows((fs) => fs.map((f) => (f.id === flow.id ? { ...f, enabled: !enabled } : f)));
      setError(`${flow.name}: ${problemSummary(err, t)}`);
    } finally {
      pending.current.delete(flow.id);
    }
  };

  const doDelete = async () => {
    const flow = confirmDelete;
    setConfirmDelete(null);
    try {
      await api.deleteFlow(flow.id);
      setFlows((fs) => fs.filter((f) => f.id !== flow.id));
      onToast('list.deleted');
    } catch (err) {
      setError(errorText(err, t));
    }
  };

  const doExport = async (flow) => {
    try {
      const doc = await api.exportFlow(flow.id);
      downloadJson(exportFileName(flow.name), doc);
    } catch (err) {
      setError(errorText(err, t));
    }
  };

  return (
    <div className="page">
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
      <div className="card table-card">
        <table className="flow-table" data-testid="flow-table">
          <thead>
            <tr>
              <th scope="col" className="col-status">{t('list.colStatus')}</th>
              <th scope="col">{t('list.colName')}</th>
              <th scope="col" className="col-num">{t('list.colTriggered')}</th>
              <th scope="col" className="col-actions"><span className="visually-hidden">{t('list.colActions')}</span></th>
            </tr>
          </thead>
          <tbody>
            {flows === null ? (
              <tr>
                <td colSpan={4} className="empty-cell" role="status">{t('app.loading')}</td>
              </tr>
            ) : flows.length === 0 ? (
              <tr>
                <td colSpan={4} className="empty-cell" data-testid="flows-empty">{t('list.empty')}</td>
              </tr>
            ) : (
              flows.map((f) => (
                <tr key={f.id} data-testid={`flow-row-${f.id}`}>
                  <td className="col-status">
                    <Toggle
                      checked={f.enabled}
                      onChange={(v) => toggle(f, v)}
                      label={t('list.toggleAria', { name: f.name })}
                      testId={`flow-toggle-${f.id}`}
                    />
                  </td>
                  <td>
                    <a
                      href={flowHash(f.id)}
                      className="flow-link"
                      data-testid={`flow-open-${f.id}`}
                      aria-label={t('list.openAria', { name: f.name })}
                    >
                      {f.name}
                    </a>
                    {f.stats?.last_triggered_at && (
                      <div className="muted small">{t('list.lastTriggered', { time: formatTime(f.stats.last_triggered_at, lang) })}</div>
                    )}
                  </td>
                  <td className="col-num">
                    <span data-testid={`flow-triggered-${f.id}`}>{f.stats?.triggered ?? 0}</span>
                    {f.stats?.failed ? <div className="small text-danger">{t('list.failed', { count: f.stats.failed })}</div> : null}
                  </td>
                  <td className="col-actions">
                    <button
                      type="button"
                      className="btn btn-ghost btn-sm"
                      onClick={() => doExport(f)}
                      aria-label={t('list.exportAria', { name: f.name })}
                      data-testid={`flow-export-${f.id}`}
                    >
                      {t('list.export')}
                    </button>
                    <button
                      type="button"
                      className="btn btn-ghost btn-sm btn-danger-text"
                      onClick={() => setConfirmDelete(f)}
                      aria-label={t('list.deleteAria', { name: f.name })}
                      data-testid={`flow-delete-${f.id}`}
                    >
                      {t('common.delete')}
                    </button>
                  </td>
                </tr>
              ))
            )}
          </tbody>
        </table>
      </div>
      {confirmDelete && (
        <ConfirmDialog
          title={t('list.deleteTitle')}
          text={t('list.deleteText', { name: confirmDelete.name })}
          confirmLabel={t('common.delete')}
          danger
          onConfirm={doDelete}
          onCancel={() => setConfirmDelete(null)}
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

/** "title: message; message" for a problem that has no place in the list. */
export function problemSummary(err, t) {
  const errs = err?.problem?.errors;
  if (Array.isArray(errs) && errs.length) return errs.map((e) => e.message).join('; ');
  return errorText(err, t);
}
