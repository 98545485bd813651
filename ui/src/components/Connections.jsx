// «Связи» in the node panel: the selected node's outgoing connections, editable without a mouse.
import { useId, useState } from 'react';
import { useCatalog } from '../catalog.js';
import { SPLIT_TYPE, branchKeys, connectionToEdge, isBranching, nextVariant, variantKeys } from '../flowDoc.js';
import { pick, useI18n } from '../i18n.js';

export function Connections({ node, nodes, edges, onAdd, onRemove, onBranch }) {
  const { t, lang } = useI18n();
  const { byType } = useCatalog();
  const [target, setTarget] = useState('');
  const [branch, setBranch] = useState('true');
  const targetId = useId();
  const branchId = useId();
  // a condition's «да» / «нет», a wait's «дождались» / «не дождались»
  const isCondition = isBranching(node.data.type);
  const labels = branchKeys(node.data.type);
  const keys = node.data.type === SPLIT_TYPE ? variantKeys(node) : null;
  const title = (id) => {
    const n = nodes.find((x) => x.id === id);
    return n ? `${pick(byType[n.data.type]?.title, lang) || n.data.type} (${n.id})` : id;
  };
  const outgoing = edges.filter((e) => e.source === node.id);
  const variant = keys ? (keys.includes(branch) ? branch : nextVariant(node, edges)) : undefined;
  const conn = (to) => ({ source: node.id, target: to, sourceHandle: isCondition ? branch : undefined, branch: variant });
  const candidates = nodes.filter((n) => n.id !== node.id && connectionToEdge(nodes, edges, conn(n.id)));
  const add = () => {
    const edge = connectionToEdge(nodes, edges, conn(target));
    if (edge) onAdd(edge);
    setTarget('');
  };
  const branchOf = (e) => (e.data?.branch === 'false' || e.sourceHandle === 'false' ? 'false' : 'true');

  return (
    <section className="connections" aria-labelledby={`${targetId}-h`} data-testid="panel-connections">
      <h3 className="section-title" id={`${targetId}-h`}>{t('conn.title')}</h3>
      {outgoing.length === 0 ? (
        <p className="muted small">{t('conn.none')}</p>
      ) : (
        <ul className="conn-list">
          {outgoing.map((e) => (
            <li key={e.id}>
              <span>
                {isCondition && <span className={`badge badge-branch-${branchOf(e)}`}>{t(labels[branchOf(e)])}</span>}
                {keys && (
                  <select
                    className="input input-sm conn-variant"
                    aria-label={`${t('split.branch')}: ${title(e.target)}`}
                    value={e.data?.branch ?? ''}
                    onChange={(ev) => onBranch?.(e.id, ev.target.value)}
                    data-testid={`conn-variant-${e.target}`}
                  >
                    {!keys.includes(e.data?.branch) && <option value={e.data?.branch ?? ''}>{e.data?.branch ?? '—'}</option>}
                    {keys.map((k) => (
                      <option key={k} value={k}>
                        {k}
                      </option>
                    ))}
                  </select>
                )}{' '}
                → {title(e.target)}
              </span>
              <button
                type="button"
                className="icon-btn icon-btn-sm"
                aria-label={t('conn.remove', { target: title(e.target) })}
                onClick={() => onRemove(e.id)}
                data-testid={`conn-remove-${e.target}`}
              >
                ×
              </button>
            </li>
          ))}
        </ul>
      )}
      {candidates.length > 0 && (
        <div className="conn-add">
          {keys && (
            <>
              <label htmlFor={branchId} className="visually-hidden">{t('split.branch')}</label>
              <select id={branchId} className="input input-sm conn-branch" value={variant ?? ''} onChange={(e) => setBranch(e.target.value)} data-testid="conn-branch">
                {keys.map((k) => (
                  <option key={k} value={k}>
                    {k}
                  </option>
                ))}
              </select>
            </>
          )}
          {isCondition && (
            <>
              <label htmlFor={branchId} className="visually-hidden">{t('conn.branch')}</label>
              <select id={branchId} className="input input-sm conn-branch" value={branch} onChange={(e) => setBranch(e.target.value)} data-testid="conn-branch">
                <option value="true">{t(labels.true)}</option>
                <option value="false">{t(labels.false)}</option>
              </select>
            </>
          )}
          <label htmlFor={targetId} className="visually-hidden">{t('conn.target')}</label>
          <select id={targetId} className="input input-sm" value={target} onChange={(e) => setTarget(e.target.value)} data-testid="conn-target">
            <option value="">{t('conn.target')}</option>
            {candidates.map((n) => (
              <option key={n.id} value={n.id}>
                {title(n.id)}
              </option>
            ))}
          </select>
          <button type="button" className="btn btn-sm" disabled={!target} onClick={add} data-testid="conn-add">
            {t('conn.add')}
          </button>
        </div>
      )}
      {keys && keys.filter((k) => !outgoing.some((e) => e.data?.branch === k)).map((k) => (
        <p key={k} className="muted small" data-testid={`variant-control-${k}`}>
          {k}: {t('split.noEdge')}
        </p>
      ))}
    </section>
  );
}
