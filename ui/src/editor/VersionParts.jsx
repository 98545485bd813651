// Parts of «История»: a list of changes as text, and the view of one version or of a diff.
import { useCatalog } from '../catalog.js';
import { useI18n } from '../i18n.js';
import { describeChange, nodeLabel } from '../versionChanges.js';

export function ChangeList({ changes, nodeTypes, testId }) {
  const { t, lang } = useI18n();
  const { byType } = useCatalog();
  if (!changes?.length) return <p className="muted small" data-testid={testId}>{t('versions.noChanges')}</p>;
  return (
    <ul className="change-list" data-testid={testId}>
      {changes.map((c, i) => {
        const { text, details } = describeChange(c, { byType, lang, t, nodeTypes });
        return (
          <li key={i}>
            {text}
            {details.length > 0 && (
              <ul>
                {details.map((d, j) => (
                  <li key={j}>{d}</li>
                ))}
              </ul>
            )}
          </li>
        );
      })}
    </ul>
  );
}

export function VersionView({ view, onClose, nodeTypes }) {
  const { t, lang } = useI18n();
  const { byType } = useCatalog();
  const { kind, data } = view;
  return (
    <div className="version-view" data-testid={`version-view-${kind}`}>
      <div className="version-head">
        <strong>
          {kind === 'diff' ? t('versions.diffTitle', { from: data.from, to: data.to }) : t('versions.document', { number: data.number })}
        </strong>
        <button type="button" className="btn btn-ghost btn-sm" onClick={onClose} data-testid="version-view-close">
          {t('common.close')}
        </button>
      </div>
      {kind === 'diff' ? (
        <ChangeList changes={data.changes} nodeTypes={nodeTypes} testId="diff-changes" />
      ) : (
        <>
          <p className="small">{data.document.name}</p>
          <ul className="change-list">
            {data.document.nodes.map((n) => (
              <li key={n.id}>{nodeLabel(byType, n.type, n.id, lang)}</li>
            ))}
          </ul>
        </>
      )}
    </div>
  );
}
