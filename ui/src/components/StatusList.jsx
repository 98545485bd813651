// Order status lists (x-widget status-list): chips with a remove button and an input to add that
// offers the statuses seen in orders (GET /api/v1/statuses) and warns on a name never seen.
import { useState } from 'react';
import { useI18n } from '../i18n.js';
import { unknownStatuses, useStatuses } from '../statuses.js';
import { errorClass } from './common.jsx';

/** A list of strings (order statuses): chips with a remove button and an input to add. */
export function StatusListWidget({ id, value, onChange, disabled, readonly, rawErrors }) {
  const { t } = useI18n();
  const [draft, setDraft] = useState('');
  const items = toStatusList(value);
  const known = useStatuses();
  const unknown = unknownStatuses(items, known);
  const listId = `${id}__statuses`;
  const add = () => {
    const v = draft.trim();
    if (!v) return;
    if (!items.includes(v)) onChange([...items, v]);
    setDraft('');
  };
  return (
    <div className={`status-list${errorClass(rawErrors)}`} id={id} data-testid={id}>
      <ul className="chips">
        {items.map((v, i) => (
          <li key={`${v}-${i}`} className={`chip${unknown.includes(v) ? ' chip-unknown' : ''}`}>
            <span>{v}</span>
            {!readonly && (
              <button
                type="button"
                className="chip-remove"
                aria-label={t('form.removeItem', { value: v })}
                disabled={disabled}
                onClick={() => onChange(items.filter((_, j) => j !== i))}
              >
                ×
              </button>
            )}
          </li>
        ))}
      </ul>
      {!readonly && (
        <div className="status-add">
          <input
            id={`${id}__new`}
            className="input input-sm"
            value={draft}
            list={known?.length ? listId : undefined}
            placeholder={t('form.statusPlaceholder')}
            aria-label={t('form.statusPlaceholder')}
            disabled={disabled}
            onChange={(e) => setDraft(e.target.value)}
            onKeyDown={(e) => {
              if (e.key === 'Enter') {
                e.preventDefault();
                add();
              }
            }}
          />
          <button type="button" className="btn btn-sm" onClick={add} disabled={disabled || !draft.trim()}>
            {t('form.addStatus')}
          </button>
          {known?.length > 0 && (
            <datalist id={listId}>
              {known.map((s) => (
                <option key={s.name} value={s.name}>{t('statusPick.orders', { orders: s.orders })}</option>
              ))}
            </datalist>
          )}
        </div>
      )}
      {unknown.map((v) => (
        <p key={v} className="field-warning" role="status" data-testid={`${id}__unknown`}>
          {t('statusPick.unknown', { name: v })}
        </p>
      ))}
    </div>
  );
}

/** Splits "Новая, В работе" into ["Новая", "В работе"]. */
export function toStatusList(value) {
  if (Array.isArray(value)) return value.filter((x) => x !== undefined && x !== null && x !== '').map(String);
  if (typeof value === 'string') return value.split(',').map((x) => x.trim()).filter(Boolean);
  return [];
}

/** The status list as an rjsf field, for properties that accept "a list or a comma-separated string". */
export function StatusListField({ fieldPathId, formData, onChange, disabled, readonly, rawErrors }) {
  return (
    <StatusListWidget
      id={fieldPathId?.$id}
      value={toStatusList(formData)}
      onChange={(v) => onChange(v.length ? v : undefined, fieldPathId?.path ?? [])}
      disabled={disabled}
      readonly={readonly}
      rawErrors={rawErrors}
    />
  );
}
