// The scenario list's search box and filters (status, event type, tag, with errors), and the bulk bar.
import { useId } from 'react';
import { useCatalog } from '../catalog.js';
import { EMPTY_FILTERS } from '../flowFilter.js';
import { pick, useI18n } from '../i18n.js';
import '../styles/lists.css';

export function FlowListFilters({ filters, setFilters, eventTypes, tags, shown, total }) {
  const { t, lang } = useI18n();
  const { byType } = useCatalog();
  const searchId = useId();
  const set = (key) => (e) => setFilters((f) => ({ ...f, [key]: e.target.type === 'checkbox' ? e.target.checked : e.target.value }));
  const active = Object.entries(filters).some(([k, v]) => v !== EMPTY_FILTERS[k]);
  return (
    <div className="list-filters" role="search" data-testid="list-filters">
      <label htmlFor={searchId} className="visually-hidden">{t('list.search')}</label>
      <input id={searchId} type="search" className="input list-search" placeholder={t('list.search')} value={filters.q} onChange={set('q')} data-testid="list-search" />
      <select className="input" value={filters.status} onChange={set('status')} aria-label={t('list.filterStatus')} data-testid="filter-status">
        <option value="">{t('list.statusAll')}</option>
        <option value="enabled">{t('list.statusOn')}</option>
        <option value="disabled">{t('list.statusOff')}</option>
      </select>
      <select className="input" value={filters.event} onChange={set('event')} aria-label={t('list.filterEvent')} data-testid="filter-event">
        <option value="">{t('list.eventAll')}</option>
        {eventTypes.map((type) => (
          <option key={type} value={type}>{pick(byType?.[type]?.title, lang) || type}</option>
        ))}
      </select>
      <select className="input" value={filters.tag} onChange={set('tag')} aria-label={t('list.filterTag')} data-testid="filter-tag">
        <option value="">{t('list.tagAll')}</option>
        {tags.map((tag) => (
          <option key={tag} value={tag}>{tag}</option>
        ))}
      </select>
      <label className="check">
        <input type="checkbox" checked={filters.hasErrors} onChange={set('hasErrors')} data-testid="filter-errors" />
        {t('list.hasErrors')}
      </label>
      {active && (
        <button type="button" className="btn btn-sm btn-ghost" onClick={() => setFilters(EMPTY_FILTERS)} data-testid="filter-reset">
          {t('list.resetFilters')}
        </button>
      )}
      <span className="muted small list-count" role="status" data-testid="list-count">{t('list.shown', { shown, total })}</span>
    </div>
  );
}

export function BulkBar({ count, onSwitch, busy }) {
  const { t } = useI18n();
  if (!count) return null;
  return (
    <div className="bulk-bar" data-testid="bulk-bar">
      <span>{t('list.selected', { count })}</span>
      <button type="button" className="btn btn-sm" disabled={busy} onClick={() => onSwitch(true)} data-testid="bulk-on">
        {t('list.bulkOn')}
      </button>
      <button type="button" className="btn btn-sm" disabled={busy} onClick={() => onSwitch(false)} data-testid="bulk-off">
        {t('list.bulkOff')}
      </button>
    </div>
  );
}
