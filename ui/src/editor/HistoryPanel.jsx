// «История»: the scenario's versions (who, when, what changed), one version's nodes, the diff of
// two, and «Восстановить» (a new version with the old document).
import { useCallback, useEffect, useState } from 'react';
import { errorText } from '../api.js';
import { flowsApi } from '../apiFlows.js';
import { useI18n } from '../i18n.js';
import { ConfirmDialog, formatTime } from '../components/common.jsx';
import { ChangeList, VersionView } from './VersionParts.jsx';
import '../styles/lists.css';

function whoText(v, t) {
  if (v.author === 'ui') return t('versions.who.ui');
  if (v.author === 'env') return t('versions.who.env');
  if (v.author?.startsWith('token:')) return t('versions.who.token', { name: v.author_name || v.author.slice(6) });
  return t('versions.who.unknown');
}

export function HistoryPanel({ flowId, dirty, onRestored, onToast, nodeTypes }) {
  const { t, lang } = useI18n();
  const [list, setList] = useState(null);
  const [error, setError] = useState(null);
  const [picked, setPicked] = useState([]);
  const [view, setView] = useState(null); // {kind: 'version', data} | {kind: 'diff', data}
  const [restoring, setRestoring] = useState(null);

  const load = useCallback(async () => {
    if (!flowId) return;
    try {
      setList(await flowsApi.versions(flowId));
      setError(null);
    } catch (err) {
      setError(errorText(err, t));
    }
  }, [flowId, t]);
  useEffect(() => {
    load();
  }, [load]);

  if (!flowId) return <p className="muted">{t('versions.unsaved')}</p>;

  const show = async (promise, kind) => {
    try {
      setView({ kind, data: await promise });
    } catch (err) {
      setError(errorText(err, t));
    }
  };
  const pick = (n, on) => setPicked((p) => (on ? [...p.filter((x) => x !== n), n].slice(-2) : p.filter((x) => x !== n)));
  const compare = () => {
    const [a, b] = [...picked].sort((x, y) => x - y);
    show(flowsApi.diff(flowId, a, b), 'diff');
  };
  const restore = async () => {
    const n = restoring;
    setRestoring(null);
    try {
      const doc = await flowsApi.restore(flowId, n);
      onRestored(doc);
      onToast('versions.restored', { number: n });
      setView(null);
      setPicked([]);
      await load();
    } catch (err) {
      setError(errorText(err, t));
    }
  };

  return (
    <div data-testid="versions-panel">
      <h3 className="card-title">{t('versions.title')}</h3>
      {error && <p className="field-error" role="alert">{error}</p>}
      <div className="version-actions">
        <button type="button" className="btn btn-sm" disabled={picked.length !== 2} onClick={compare} data-testid="versions-compare">
          {t('versions.compare')}
        </button>
      </div>
      {picked.length !== 2 && <p className="muted small">{t('versions.compareHint')}</p>}
      {view && <VersionView view={view} nodeTypes={nodeTypes} onClose={() => setView(null)} />}
      {list === null ? (
        <p className="muted" role="status">{t('app.loading')}</p>
      ) : (
        <ul className="version-list">
          {list.versions.map((v) => (
            <li key={v.number} className="version-item" data-testid={`version-${v.number}`}>
              <div className="version-head">
                <input type="checkbox" checked={picked.includes(v.number)} onChange={(e) => pick(v.number, e.target.checked)} aria-label={t('versions.pick', { number: v.number })} data-testid={`version-pick-${v.number}`} />
                <strong>{t('versions.number', { number: v.number })}</strong>
                {v.number === list.current && <span className="badge badge-ok">{t('versions.current')}</span>}
                <span className="muted small">{t(`versions.action.${v.action}`, { from: v.restored_from })}</span>
              </div>
              <div className="muted small">{t('versions.by', { time: formatTime(v.created_at, lang), who: whoText(v, t) })}</div>
              <ChangeList changes={v.changes} nodeTypes={nodeTypes} />
              <div className="version-actions">
                <button type="button" className="btn btn-ghost btn-sm" onClick={() => show(flowsApi.version(flowId, v.number), 'version')} data-testid={`version-view-${v.number}`}>
                  {t('versions.view')}
                </button>
                {v.number !== list.current && (
                  <button type="button" className="btn btn-ghost btn-sm" disabled={dirty} title={dirty ? t('versions.restoreDirty') : undefined} onClick={() => setRestoring(v.number)} data-testid={`version-restore-${v.number}`}>
                    {t('versions.restore')}
                  </button>
                )}
              </div>
            </li>
          ))}
        </ul>
      )}
      {restoring && (
        <ConfirmDialog
          title={t('versions.restoreTitle', { number: restoring })}
          text={t('versions.restoreText', { number: restoring })}
          confirmLabel={t('versions.restore')}
          onConfirm={restore}
          onCancel={() => setRestoring(null)}
        />
      )}
    </div>
  );
}
