// «Данные для теста»: the recent real deals, visits or events, searched by id or by the client's
// name, phone or e-mail (GET /api/v1/orders|visits|events?q=); picking one tests on it.
import { useEffect, useState } from 'react';
import { api, errorText } from '../api.js';
import { useI18n } from '../i18n.js';
import { recordLabel } from '../tryout.js';

const KINDS = ['order', 'visit', 'event'];

export function RecordPicker({ initialKind, onPick }) {
  const { t } = useI18n();
  const [kind, setKind] = useState(initialKind);
  const [q, setQ] = useState('');
  const [items, setItems] = useState(null);
  const [error, setError] = useState(null);

  useEffect(() => {
    let live = true;
    const timer = setTimeout(
      () =>
        api.records(kind, q.trim()).then(
          (d) => live && (setItems(d?.[`${kind}s`] || []), setError(null)),
          (err) => live && (setItems([]), setError(errorText(err, t))),
        ),
      q ? 250 : 0,
    );
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [kind, q, t]);

  return (
    <div className="record-picker" data-testid="record-picker">
      <div className="record-kinds" role="group" aria-label={t('tryout.source')}>
        {KINDS.map((k) => (
          <button
            key={k}
            type="button"
            className={`btn btn-sm${k === kind ? ' btn-primary' : ' btn-ghost'}`}
            aria-pressed={k === kind}
            onClick={() => (setKind(k), setItems(null))}
            data-testid={`record-kind-${k}`}
          >
            {t(`tryout.kind.${k}`)}
          </button>
        ))}
      </div>
      <input
        className="input"
        type="search"
        value={q}
        placeholder={t('tryout.search')}
        aria-label={t('tryout.search')}
        onChange={(e) => setQ(e.target.value)}
        data-testid="record-search"
      />
      {error && <p className="muted small" role="alert">{error}</p>}
      {items === null ? (
        <p className="muted small">{t('tryout.loading')}</p>
      ) : items.length === 0 ? (
        <p className="muted small" data-testid="record-none">{t('tryout.none')}</p>
      ) : (
        <ul className="record-list" aria-label={t('tryout.recent')}>
          {items.map((rec) => {
            const { what, who, extra } = recordLabel(kind, rec, t);
            return (
              <li key={rec.id}>
                <button type="button" className="link-btn record-item" onClick={() => onPick(kind, rec)} data-testid={`record-${kind}-${rec.id}`}>
                  <strong>{what}</strong> <span className="muted small">{[extra, who].filter(Boolean).join(' · ')}</span>
                </button>
              </li>
            );
          })}
        </ul>
      )}
    </div>
  );
}
