// The action form's connection picker: a shared connection of the action's types («Подключения»),
// or «Ввести вручную» for the access fields inline. While a connection is chosen, the fields it
// gives are hidden and left out of the node's params (connectionFields).
import { useEffect, useState } from 'react';
import { api } from '../api.js';
import { useI18n } from '../i18n.js';

let cached = null; // one list per page load; the «Подключения» page resets it after a change

export function forgetConnections() {
  cached = null;
}

function loadConnections() {
  cached ||= api.connections().catch((err) => {
    cached = null;
    throw err;
  });
  return cached;
}

/** The params an action takes from a connection (any of its types) and the ones they imply. */
export function connectionFields(schema) {
  const out = new Set();
  for (const rule of Object.values(schema?.['x-connections'] || {})) {
    for (const f of rule.fields || []) out.add(f);
    for (const f of Object.keys(rule.when || {})) out.add(f);
  }
  return [...out];
}

/** `params` without the fields a chosen connection gives (as sent to the server). */
export function withoutConnectionFields(schema, params) {
  if (!params?.connection) return params;
  const out = { ...params };
  for (const f of connectionFields(schema)) delete out[f];
  return out;
}

export function ConnectionWidget({ id, value, onChange, schema, disabled, readonly }) {
  const { t } = useI18n();
  const [list, setList] = useState(null);
  const [failed, setFailed] = useState(false);
  const types = schema?.['x-connection-types'] || [];
  useEffect(() => {
    let live = true;
    loadConnections()
      .then((all) => live && setList(all))
      .catch(() => live && setFailed(true));
    return () => {
      live = false;
    };
  }, []);
  const options = (list || []).filter((c) => types.includes(c.type));
  const unknown = value && list && !options.some((c) => c.id === value);
  return (
    <div className="connection-picker">
      <select
        id={id}
        className="input"
        value={value || ''}
        disabled={disabled || readonly}
        onChange={(e) => onChange(e.target.value || undefined)}
        data-testid="connection-picker"
      >
        <option value="">{t('connections.manual')}</option>
        {options.map((c) => (
          <option key={c.id} value={c.id}>
            {c.name} ({t(`connections.type.${c.type}`)})
          </option>
        ))}
        {unknown && <option value={value}>{t('connections.unknown', { id: value })}</option>}
      </select>
      {failed && <p className="field-error">{t('connections.loadFailed')}</p>}
      {list && !options.length && (
        <p className="muted small">
          {t('connections.noneOfType')} <a href="#/connections">{t('nav.connections')}</a>
        </p>
      )}
    </div>
  );
}
