// «Подключения»: shared access params (a Slack hook, an SMTP login, a CRM token…) stored once and
// chosen in any action's form. List, create/edit with the type's form, «Проверить подключение»,
// «Где используется», delete (refused while a scenario or template uses it).
import { useEffect, useMemo, useState } from 'react';
import Form from '@rjsf/core';
import { api, errorText } from '../api.js';
import { rjsfTranslator, useI18n } from '../i18n.js';
import { formSchemas } from '../schemaUi.js';
import { DEFAULTS_BEHAVIOR, validator } from '../validator.js';
import { Banner, ConfirmDialog, Modal } from './common.jsx';
import { forgetConnections } from './ConnectionPicker.jsx';
import { useLoadedList } from './useLoadedList.js';
import { fields, widgets } from './widgets.jsx';

/** Problems of a 422 at /params/<field> -> rjsf extraErrors. */
function paramErrors(problems) {
  const out = {};
  for (const p of problems || []) {
    const m = /^\/params\/([^/]+)/.exec(p.path || '');
    if (m) (out[m[1]] ||= { __errors: [] }).__errors.push(p.message);
  }
  return out;
}

function ConnectionEditor({ types, editing, onSaved, onCancel }) {
  const { t, lang } = useI18n();
  const [type, setType] = useState(editing?.type || types[0]?.type || 'slack');
  const [name, setName] = useState(editing?.name || '');
  const [params, setParams] = useState(editing?.params || {});
  const [problems, setProblems] = useState([]);
  const [busy, setBusy] = useState(false);
  const def = types.find((k) => k.type === type);
  const { schema, uiSchema } = useMemo(() => formSchemas(def?.schema, lang), [def, lang]);
  const translateString = useMemo(() => rjsfTranslator(lang), [lang]);

  const save = async () => {
    setBusy(true);
    setProblems([]);
    try {
      const body = { name: name.trim(), type, params };
      onSaved(editing ? await api.saveConnection(editing.id, body) : await api.createConnection(body));
    } catch (err) {
      setProblems(err?.problem?.errors?.length ? err.problem.errors : [{ path: '/', message: errorText(err, t) }]);
    } finally {
      setBusy(false);
    }
  };
  const other = problems.filter((p) => !/^\/params\//.test(p.path || ''));
  return (
    <Modal
      title={editing ? t('connections.editTitle') : t('connections.createTitle')}
      onClose={onCancel}
      testId="connection-dialog"
      wide
      footer={
        <>
          <button type="button" className="btn" onClick={onCancel}>{t('common.cancel')}</button>
          <button type="button" className="btn btn-primary" disabled={busy || !name.trim()} onClick={save} data-testid="connection-save">
            {t('connections.save')}
          </button>
        </>
      }
    >
      <label className="field-label" htmlFor="connection-name">{t('connections.name')}</label>
      <input id="connection-name" className="input" value={name} maxLength={200} placeholder={t('connections.namePlaceholder')} onChange={(e) => setName(e.target.value)} data-testid="connection-name" />
      <label className="field-label" htmlFor="connection-type">{t('connections.type')}</label>
      <select id="connection-type" className="input" value={type} disabled={Boolean(editing)} onChange={(e) => { setType(e.target.value); setParams({}); }} data-testid="connection-type">
        {types.map((k) => (
          <option key={k.type} value={k.type}>{t(`connections.type.${k.type}`)}</option>
        ))}
      </select>
      {other.length > 0 && (
        <Banner testId="connection-problems">{other.map((p) => `${p.path}: ${p.message}`).join('; ')}</Banner>
      )}
      <Form
        key={type}
        className="node-form"
        schema={schema}
        uiSchema={uiSchema}
        formData={params}
        formContext={{ params }}
        validator={validator}
        widgets={widgets}
        fields={fields}
        experimental_defaultFormStateBehavior={DEFAULTS_BEHAVIOR}
        extraErrors={paramErrors(problems)}
        showErrorList={false}
        noHtml5Validate
        translateString={translateString}
        onChange={(e) => setParams(e.formData ?? {})}
        onSubmit={() => {}}
      />
    </Modal>
  );
}

function UsedBy({ usedBy }) {
  const { t } = useI18n();
  const flows = usedBy?.flows || [];
  const presets = usedBy?.presets || [];
  if (!flows.length && !presets.length) return <span className="muted small">{t('connections.unused')}</span>;
  return (
    <ul className="plain-list small">
      {flows.map((f) => (
        <li key={f.id}><a href={`#/flows/${encodeURIComponent(f.id)}`}>{f.name}</a></li>
      ))}
      {presets.map((p) => (
        <li key={p.id}>{t('connections.template', { name: p.name })}</li>
      ))}
    </ul>
  );
}

export function ConnectionsPage({ onToast }) {
  const { t } = useI18n();
  const { items, error, setError, load } = useLoadedList(api.connections, t);
  const [types, setTypes] = useState(null);
  const [editing, setEditing] = useState(null); // null: closed; {}: new; a connection: edit it
  const [results, setResults] = useState({});
  const [confirmDelete, setConfirmDelete] = useState(null);

  useEffect(() => {
    api.connectionTypes().then(setTypes).catch((err) => setError(errorText(err, t)));
  }, [t, setError]);

  const saved = (conn) => {
    setEditing(null);
    forgetConnections();
    onToast('connections.saved', { name: conn.name });
    load();
  };
  const check = async (conn) => {
    setResults((r) => ({ ...r, [conn.id]: { pending: true } }));
    try {
      const res = await api.testConnection(conn.id);
      setResults((r) => ({ ...r, [conn.id]: res }));
    } catch (err) {
      setResults((r) => ({ ...r, [conn.id]: { ok: false, message: errorText(err, t) } }));
    }
  };
  const doDelete = async () => {
    const conn = confirmDelete;
    setConfirmDelete(null);
    try {
      await api.deleteConnection(conn.id);
      forgetConnections();
      onToast('connections.deleted');
      load();
    } catch (err) {
      const names = (err?.problem?.errors || []).map((e) => e.flow?.name || e.preset?.name).filter(Boolean);
      setError(err.status === 409 ? t('connections.inUse', { names: names.join(', ') }) : errorText(err, t));
    }
  };

  return (
    <div className="page" data-testid="connections-page">
      <div className="page-head">
        <h1 className="page-title">{t('connections.title')}</h1>
        <button type="button" className="btn btn-primary" disabled={!types} onClick={() => setEditing({})} data-testid="connection-add">
          {t('connections.add')}
        </button>
      </div>
      <p className="muted forms-intro">{t('connections.intro')}</p>
      {error && <Banner onClose={() => setError(null)} testId="connections-error">{error}</Banner>}
      <div className="card table-card">
        <table className="flow-table" data-testid="connection-table">
          <thead>
            <tr>
              <th scope="col">{t('connections.colName')}</th>
              <th scope="col">{t('connections.colType')}</th>
              <th scope="col">{t('connections.colUsedBy')}</th>
              <th scope="col">{t('connections.colCheck')}</th>
              <th scope="col" className="col-actions"><span className="visually-hidden">{t('list.colActions')}</span></th>
            </tr>
          </thead>
          <tbody>
            {items === null ? (
              <tr><td colSpan={5} className="empty-cell" role="status">{t('app.loading')}</td></tr>
            ) : items.length === 0 ? (
              <tr><td colSpan={5} className="empty-cell" data-testid="connections-empty">{t('connections.empty')}</td></tr>
            ) : (
              items.map((c) => {
                const res = results[c.id];
                return (
                  <tr key={c.id} data-testid={`connection-row-${c.id}`}>
                    <td>{c.name}</td>
                    <td>{t(`connections.type.${c.type}`)}</td>
                    <td data-testid={`connection-used-${c.id}`}><UsedBy usedBy={c.used_by} /></td>
                    <td>
                      <button type="button" className="btn btn-sm" disabled={res?.pending} onClick={() => check(c)} data-testid={`connection-test-${c.id}`}>
                        {t('connections.test')}
                      </button>
                      {res && !res.pending && (
                        <p className={`small ${res.ok ? 'text-success' : 'text-danger'}`} role="status" data-testid={`connection-result-${c.id}`}>
                          {res.ok ? '✓ ' : '✗ '}{res.message}
                        </p>
                      )}
                    </td>
                    <td className="col-actions">
                      <button type="button" className="btn btn-ghost btn-sm" onClick={() => setEditing(c)} data-testid={`connection-edit-${c.id}`}>{t('connections.edit')}</button>
                      <button type="button" className="btn btn-ghost btn-sm btn-danger-text" onClick={() => setConfirmDelete(c)} data-testid={`connection-delete-${c.id}`}>{t('common.delete')}</button>
                    </td>
                  </tr>
                );
              })
            )}
          </tbody>
        </table>
      </div>
      {editing && types && (
        <ConnectionEditor types={types} editing={editing.id ? editing : null} onSaved={saved} onCancel={() => setEditing(null)} />
      )}
      {confirmDelete && (
        <ConfirmDialog
          title={t('connections.deleteTitle')}
          text={t('connections.deleteText', { name: confirmDelete.name })}
          confirmLabel={t('common.delete')}
          danger
          onConfirm={doDelete}
          onCancel={() => setConfirmDelete(null)}
        />
      )}
    </div>
  );
}
