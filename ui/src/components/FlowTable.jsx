// The scenario table: sortable column headers (the keys of GET /api/v1/flows?sort), a checkbox per
// row for bulk on/off, tags, the last 7 days, actions.
import { useI18n } from '../i18n.js';
import { flowHash } from '../router.js';
import { shortTime } from '../stats.js';
import { Toggle } from './common.jsx';
import { WeekSpark } from './Sparkline.jsx';

const COLUMNS = 9;

function SortHeader({ column, label, sort, onSort, className }) {
  const { t } = useI18n();
  const state = sort === column ? 'ascending' : sort === `-${column}` ? 'descending' : undefined;
  return (
    <th scope="col" className={className} aria-sort={state}>
      <button type="button" className="sort-btn" onClick={() => onSort(column)} title={t('list.sortBy', { column: label })} data-testid={`sort-${column}`}>
        {label}
      </button>
    </th>
  );
}

export function FlowTable({ flows, total, sort, onSort, selected, setSelected, actions, onTag }) {
  const { t } = useI18n();
  const allChecked = Boolean(flows?.length) && flows.every((f) => selected.has(f.id));
  const toggleAll = (on) => setSelected(on ? new Set((flows || []).map((f) => f.id)) : new Set());
  const toggleOne = (id, on) =>
    setSelected((s) => {
      const next = new Set(s);
      if (on) next.add(id);
      else next.delete(id);
      return next;
    });
  return (
    <table className="flow-table" data-testid="flow-table">
      <thead>
        <tr>
          <th scope="col" className="col-check">
            <input type="checkbox" checked={allChecked} onChange={(e) => toggleAll(e.target.checked)} aria-label={t('list.selectAll')} data-testid="select-all" />
          </th>
          <SortHeader column="status" label={t('list.colStatus')} sort={sort} onSort={onSort} className="col-status" />
          <SortHeader column="name" label={t('list.colName')} sort={sort} onSort={onSort} />
          <th scope="col" className="col-week">{t('list.col7days')}</th>
          <SortHeader column="runs" label={t('list.colTriggered')} sort={sort} onSort={onSort} className="col-num" />
          <SortHeader column="failed" label={t('list.colFailed')} sort={sort} onSort={onSort} className="col-num" />
          <SortHeader column="last_triggered" label={t('list.colLastTriggered')} sort={sort} onSort={onSort} className="col-time" />
          <SortHeader column="updated" label={t('list.colUpdated')} sort={sort} onSort={onSort} className="col-time" />
          <th scope="col" className="col-actions"><span className="visually-hidden">{t('list.colActions')}</span></th>
        </tr>
      </thead>
      <tbody>
        {flows === null ? (
          <tr>
            <td colSpan={COLUMNS} className="empty-cell" role="status">{t('app.loading')}</td>
          </tr>
        ) : flows.length === 0 ? (
          <tr>
            <td colSpan={COLUMNS} className="empty-cell" data-testid="flows-empty">{total ? t('list.nothingFound') : t('list.empty')}</td>
          </tr>
        ) : (
          flows.map((f) => <FlowRow key={f.id} f={f} checked={selected.has(f.id)} onCheck={(on) => toggleOne(f.id, on)} actions={actions} onTag={onTag} />)
        )}
      </tbody>
    </table>
  );
}

function FlowRow({ f, checked, onCheck, actions, onTag }) {
  const { t, lang } = useI18n();
  return (
    <tr data-testid={`flow-row-${f.id}`}>
      <td className="col-check">
        <input type="checkbox" checked={checked} onChange={(e) => onCheck(e.target.checked)} aria-label={t('list.selectRow', { name: f.name })} data-testid={`flow-check-${f.id}`} />
      </td>
      <td className="col-status">
        <Toggle checked={f.enabled} onChange={(v) => actions.toggle(f, v)} label={t('list.toggleAria', { name: f.name })} testId={`flow-toggle-${f.id}`} />
      </td>
      <td>
        <a href={flowHash(f.id)} className="flow-link" data-testid={`flow-open-${f.id}`} aria-label={t('list.openAria', { name: f.name })}>
          {f.name}
        </a>
        {f.tags?.length > 0 && (
          <div className="tag-list">
            {f.tags.map((tag) => (
              <button key={tag} type="button" className="tag-chip" onClick={() => onTag(tag)} aria-label={t('list.tagFilterAria', { tag })} data-testid="flow-tag">
                {tag}
              </button>
            ))}
          </div>
        )}
      </td>
      <td className="col-week">
        <WeekSpark flowId={f.id} week={f.stats?.last_7_days} />
      </td>
      <td className="col-num">
        <span data-testid={`flow-triggered-${f.id}`}>{f.stats?.triggered ?? 0}</span>
      </td>
      <td className="col-num">
        <span className={f.stats?.failed ? 'text-danger' : undefined} data-testid={`flow-failed-${f.id}`}>{f.stats?.failed ?? 0}</span>
      </td>
      <td className="col-time small" data-testid={`flow-last-${f.id}`}>{shortTime(f.stats?.last_triggered_at, lang)}</td>
      <td className="col-time small">{shortTime(f.updated_at, lang)}</td>
      <td className="col-actions">
        <button type="button" className="btn btn-ghost btn-sm" onClick={() => actions.duplicate(f)} aria-label={t('list.duplicateAria', { name: f.name })} data-testid={`flow-duplicate-${f.id}`}>
          {t('list.duplicate')}
        </button>
        <button type="button" className="btn btn-ghost btn-sm" onClick={() => actions.doExport(f)} aria-label={t('list.exportAria', { name: f.name })} data-testid={`flow-export-${f.id}`}>
          {t('list.export')}
        </button>
        <button type="button" className="btn btn-ghost btn-sm btn-danger-text" onClick={() => actions.askDelete(f)} aria-label={t('list.deleteAria', { name: f.name })} data-testid={`flow-delete-${f.id}`}>
          {t('common.delete')}
        </button>
      </td>
    </tr>
  );
}
