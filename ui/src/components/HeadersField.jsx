// The webhook's headers: name, value and a «секрет» checkbox per row. A header secret by its name
// (Authorization, *-Token, …: the schema's x-secret-keys rule) is always secret; another one is
// secret when marked, which lists it in the sibling param the rule names (secret_headers).
// A stored secret comes back as the placeholder: shown as «задано», kept unless retyped.
import { useEffect, useRef, useState } from 'react';
import { SECRET_PLACEHOLDER } from '../flowDoc.js';
import { useI18n } from '../i18n.js';

function globToRegExp(glob) {
  const escaped = String(glob).toLowerCase().replace(/[.+^${}()|[\]\\?]/g, '\\$&').replaceAll('*', '.*');
  return new RegExp(`^${escaped}$`);
}

/** Whether header `name` is secret by name under the schema's rule. */
export function secretByName(name, rule) {
  const lower = String(name || '').toLowerCase();
  return (rule?.names || []).some((glob) => globToRegExp(glob).test(lower));
}

function rowsOf(formData) {
  return Object.entries(formData || {}).map(([name, value]) => ({ name, value: value ?? '' }));
}

export function HeadersField({ fieldPathId, formData, onChange, schema, registry, disabled, readonly }) {
  const { t } = useI18n();
  const rule = schema?.['x-secret-keys'] || {};
  const flag = rule.flag || 'secret_headers';
  const path = fieldPathId?.path ?? ['headers'];
  const flagPath = [...path.slice(0, -1), flag];
  const params = registry?.formContext?.params || {};
  const marked = new Set((Array.isArray(params[flag]) ? params[flag] : []).map((n) => String(n).toLowerCase()));
  const [rows, setRows] = useState(() => rowsOf(formData));
  const sent = useRef(JSON.stringify(formData || {}));
  const base = fieldPathId?.$id || 'root_headers';

  useEffect(() => {
    // another node, an import, an undo: the rows follow the data unless it is what they sent
    const now = JSON.stringify(formData || {});
    if (now !== sent.current) {
      sent.current = now;
      setRows(rowsOf(formData));
    }
  }, [formData]);

  const emit = (next, nextMarked = marked) => {
    setRows(next);
    const object = {};
    for (const row of next) if (row.name.trim()) object[row.name.trim()] = row.value;
    sent.current = JSON.stringify(object);
    onChange(Object.keys(object).length ? object : undefined, path);
    const names = next.map((r) => r.name.trim()).filter((n) => n && nextMarked.has(n.toLowerCase()) && !secretByName(n, rule));
    const before = Array.isArray(params[flag]) ? params[flag] : [];
    if (JSON.stringify(names) !== JSON.stringify(before)) onChange(names.length ? names : undefined, flagPath);
  };
  const update = (i, patch) => emit(rows.map((row, j) => (j === i ? { ...row, ...patch } : row)));
  const toggle = (i, on) => {
    const next = new Set(marked);
    const name = rows[i].name.trim().toLowerCase();
    if (on) next.add(name);
    else next.delete(name);
    emit(rows, next);
  };
  const locked = disabled || readonly;

  return (
    <div className="headers-field" data-testid="headers-field">
      {rows.map((row, i) => {
        const byName = secretByName(row.name, rule);
        const secret = byName || marked.has(row.name.trim().toLowerCase());
        const isSet = secret && row.value === SECRET_PLACEHOLDER;
        const id = `${base}_${i}`;
        return (
          <div className="header-row" key={i} data-testid={`header-row-${i}`}>
            <input
              className="input header-name"
              aria-label={t('form.headerName')}
              placeholder={t('form.headerName')}
              value={row.name}
              disabled={locked}
              onChange={(e) => update(i, { name: e.target.value })}
              data-testid={`${id}__name`}
            />
            <input
              className="input header-value"
              type={secret ? 'password' : 'text'}
              autoComplete={secret ? 'new-password' : 'off'}
              aria-label={t('form.headerValue')}
              placeholder={isSet ? '••••••••' : t('form.headerValue')}
              title={isSet ? t('form.secretKeep') : undefined}
              value={isSet ? '' : row.value}
              disabled={locked}
              onChange={(e) => update(i, { value: e.target.value === '' && isSet ? SECRET_PLACEHOLDER : e.target.value })}
              data-testid={`${id}__value`}
            />
            <label className="header-secret" title={byName ? t('form.headerSecretByName') : t('form.headerSecretHint')}>
              <input
                type="checkbox"
                checked={secret}
                disabled={locked || byName}
                onChange={(e) => toggle(i, e.target.checked)}
                data-testid={`${id}__secret`}
              />
              {t('form.headerSecret')}
            </label>
            {isSet && <span className="badge badge-set">{t('form.secretSet')}</span>}
            <button
              type="button"
              className="btn btn-sm btn-ghost"
              aria-label={t('form.headerRemove')}
              title={t('form.headerRemove')}
              disabled={locked}
              onClick={() => emit(rows.filter((_, j) => j !== i))}
            >
              ×
            </button>
          </div>
        );
      })}
      <button type="button" className="btn btn-sm" disabled={locked} onClick={() => setRows([...rows, { name: '', value: '' }])} data-testid={`${base}__add`}>
        {t('form.headerAdd')}
      </button>
    </div>
  );
}

/** A param edited by another field (secret_headers by the headers' checkboxes): nothing shown. */
export function HiddenField() {
  return null;
}
