// The left palette: node types grouped as События / Условия / Действия / Управление, and Шаблоны (presets).
// A condition that cannot work with the scenario's event (the catalog's `events`) is greyed out, with the reason.
import { useId, useState } from 'react';
import { groupByKind, useCatalog } from '../catalog.js';
import { pick, useI18n } from '../i18n.js';

export const DND_MIME = 'application/x-automation-node';

/** Why node type `def` cannot be added under the event `eventType`, or '' when it can. */
export function unfitReason(def, eventType, byType, t, lang) {
  if (!eventType || !Array.isArray(def?.events) || def.events.includes(eventType)) return '';
  const names = def.events.map((e) => `«${pick(byType[e]?.title, lang) || e}»`).join(', ');
  return t(def.events.length === 1 ? 'palette.onlyWithEvent' : 'palette.onlyWithEvents', { events: names });
}

export function Palette({ presets, eventType, onAdd, onAddPreset, onDeletePreset }) {
  const { t, lang } = useI18n();
  const { nodes, byType } = useCatalog();
  const [filter, setFilter] = useState('');
  const searchId = useId();
  const q = filter.trim().toLowerCase();
  const match = (n) => !q || pick(n.title, lang).toLowerCase().includes(q) || n.type.toLowerCase().includes(q);
  const groups = groupByKind(nodes.filter(match));
  const shownPresets = (presets || []).filter((p) => !q || String(p.name).toLowerCase().includes(q));

  const dragStart = (e, payload) => {
    e.dataTransfer.setData(DND_MIME, JSON.stringify(payload));
    e.dataTransfer.setData('text/plain', payload.type || payload.preset);
    e.dataTransfer.effectAllowed = 'copy';
  };

  const section = (kind, items) =>
    items.length > 0 && (
      <section className="palette-section" key={kind} aria-labelledby={`palette-h-${kind}`}>
        <h3 className="palette-heading" id={`palette-h-${kind}`}>{t(`palette.${kind}`)}</h3>
        <ul className="palette-list">
          {items.map((n) => {
            const title = pick(n.title, lang);
            const reason = unfitReason(n, eventType, byType || {}, t, lang);
            return (
              <li key={n.type}>
                <button
                  type="button"
                  className={`palette-item palette-item-${kind}`}
                  draggable={!reason}
                  aria-disabled={reason ? 'true' : undefined}
                  onDragStart={(e) => (reason ? e.preventDefault() : dragStart(e, { type: n.type }))}
                  onClick={() => !reason && onAdd(n.type)}
                  title={reason || pick(n.description, lang) || title}
                  aria-label={reason ? `${title}: ${reason}` : t('palette.itemAria', { title })}
                  data-testid={`palette-${n.type}`}
                >
                  <span className={`dot dot-${kind}`} aria-hidden="true" />
                  <span className="palette-item-title">
                    {title}
                    {reason && <span className="palette-item-reason" data-testid={`palette-reason-${n.type}`}>{reason}</span>}
                  </span>
                </button>
              </li>
            );
          })}
        </ul>
      </section>
    );

  // flow.delay and any other flow-control node get their own «Управление» section after the actions.
  return (
    <nav className="palette" aria-label={t('palette.title')} data-testid="palette">
      <div className="palette-search">
        <label htmlFor={searchId} className="visually-hidden">{t('palette.search')}</label>
        <input
          id={searchId}
          className="input input-sm"
          type="search"
          placeholder={t('palette.search')}
          value={filter}
          onChange={(e) => setFilter(e.target.value)}
          data-testid="palette-search"
        />
      </div>
      {Object.entries(groups).map(([kind, items]) => section(kind, items))}
      <section className="palette-section" aria-labelledby="palette-h-presets">
        <h3 className="palette-heading" id="palette-h-presets">{t('palette.presets')}</h3>
        {shownPresets.length === 0 ? (
          <p className="muted small palette-empty">{t('palette.noPresets')}</p>
        ) : (
          <ul className="palette-list">
            {shownPresets.map((p) => (
              <li key={p.id} className="palette-preset-row">
                <button
                  type="button"
                  className={`palette-item palette-item-preset palette-item-${p.kind === 'trigger' ? 'event' : 'action'}`}
                  draggable
                  onDragStart={(e) => dragStart(e, { preset: p.id })}
                  onClick={() => onAddPreset(p.id)}
                  aria-label={t('palette.itemAria', { title: p.name })}
                  data-testid={`palette-preset-${p.id}`}
                >
                  <span className={`dot dot-${p.kind === 'trigger' ? 'event' : 'action'}`} aria-hidden="true" />
                  <span className="palette-item-title">
                    {p.name}
                    <span className="palette-item-sub">{t(p.kind === 'trigger' ? 'palette.presetTrigger' : 'palette.presetAction')}</span>
                  </span>
                </button>
                <button
                  type="button"
                  className="icon-btn icon-btn-sm"
                  aria-label={t('palette.deletePreset', { name: p.name })}
                  onClick={() => onDeletePreset(p)}
                  data-testid={`palette-preset-delete-${p.id}`}
                >
                  ×
                </button>
              </li>
            ))}
          </ul>
        )}
      </section>
    </nav>
  );
}
