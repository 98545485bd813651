// «Формы сайта»: site-form sources — create one (its name is the custom event's name), copy its
// URL for Tilda or a form's action, delete it (which revokes the key).
import { useState } from 'react';
import { api, errorText } from '../api.js';
import { useI18n } from '../i18n.js';
import { Banner, ConfirmDialog, formatTime } from './common.jsx';
import { useLoadedList } from './useLoadedList.js';
import { FormsHelp } from './FormsHelp.jsx';

/** Copies `text`; the Clipboard API where the page may use it, else a selected input and execCommand. */
async function copyText(text, input) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    if (!input) return false;
    input.select();
    try {
      return document.execCommand('copy');
    } catch {
      return false;
    }
  }
}

export function SiteForms({ onToast }) {
  const { t, lang } = useI18n();
  const { items: sources, setItems: setSources, error, setError } = useLoadedList(api.hooks, t);
  const [name, setName] = useState('');
  const [busy, setBusy] = useState(false);
  const [fieldError, setFieldError] = useState(null);
  const [confirmDelete, setConfirmDelete] = useState(null);

  const create = async (e) => {
    e.preventDefault();
    setBusy(true);
    setFieldError(null);
    try {
      const source = await api.createHook(name.trim());
      setSources((list) => [...(list || []), source]);
      setName('');
      onToast('forms.created', { name: source.name });
    } catch (err) {
      const problems = err?.problem?.errors;
      if (Array.isArray(problems) && problems.length) setFieldError(problems.map((p) => p.message).join('; '));
      else setError(errorText(err, t));
    } finally {
      setBusy(false);
    }
  };

  const doDelete = async () => {
    const source = confirmDelete;
    setConfirmDelete(null);
    try {
      await api.deleteHook(source.id);
      setSources((list) => list.filter((s) => s.id !== source.id));
      onToast('forms.deleted');
    } catch (err) {
      setError(errorText(err, t));
    }
  };

  const copy = async (source) => {
    const ok = await copyText(source.url, document.getElementById(`hook-url-${source.id}`));
    onToast(ok ? 'forms.copied' : 'forms.copyFailed');
  };

  return (
    <div className="page" data-testid="forms-page">
      <div className="page-head">
        <h1 className="page-title">{t('forms.title')}</h1>
      </div>
      <p className="muted forms-intro">{t('forms.intro')}</p>
      {error && (
        <Banner onClose={() => setError(null)} testId="forms-error">
          {error}
        </Banner>
      )}
      <form className="card forms-create" onSubmit={create}>
        <label className="field-label" htmlFor="hook-name">{t('forms.name')}</label>
        <div className="forms-create-row">
          <input
            id="hook-name"
            className={`input${fieldError ? ' input-invalid' : ''}`}
            value={name}
            maxLength={200}
            placeholder={t('forms.namePlaceholder')}
            onChange={(e) => setName(e.target.value)}
            aria-invalid={Boolean(fieldError)}
            aria-describedby={fieldError ? 'hook-name-error' : undefined}
            data-testid="hook-name"
          />
          <button type="submit" className="btn btn-primary" disabled={busy || !name.trim()} data-testid="hook-create">
            {t('forms.create')}
          </button>
        </div>
        {fieldError && <p id="hook-name-error" className="field-error" role="alert">{fieldError}</p>}
      </form>
      <div className="card table-card">
        <table className="flow-table" data-testid="hook-table">
          <thead>
            <tr>
              <th scope="col">{t('forms.colName')}</th>
              <th scope="col">{t('forms.colUrl')}</th>
              <th scope="col">{t('forms.colLast')}</th>
              <th scope="col" className="col-actions"><span className="visually-hidden">{t('list.colActions')}</span></th>
            </tr>
          </thead>
          <tbody>
            {sources === null ? (
              <tr><td colSpan={4} className="empty-cell" role="status">{t('app.loading')}</td></tr>
            ) : sources.length === 0 ? (
              <tr><td colSpan={4} className="empty-cell" data-testid="hooks-empty">{t('forms.empty')}</td></tr>
            ) : (
              sources.map((s) => (
                <tr key={s.id} data-testid={`hook-row-${s.id}`}>
                  <td><code data-testid={`hook-name-${s.id}`}>{s.name}</code></td>
                  <td className="hook-url-cell">
                    {s.url ? (
                      <div className="hook-url">
                        <input id={`hook-url-${s.id}`} className="input input-sm code" readOnly value={s.url} onFocus={(e) => e.target.select()} data-testid={`hook-url-${s.id}`} aria-label={t('forms.colUrl')} />
                        <button type="button" className="btn btn-sm" onClick={() => copy(s)} aria-label={t('forms.copyAria', { name: s.name })} data-testid={`hook-copy-${s.id}`}>
                          {t('forms.copy')}
                        </button>
                      </div>
                    ) : (
                      <span className="text-danger small">{t('forms.noKey')}</span>
                    )}
                  </td>
                  <td className="small">{s.last_used_at ? formatTime(s.last_used_at, lang) : <span className="muted">{t('forms.never')}</span>}</td>
                  <td className="col-actions">
                    <button type="button" className="btn btn-ghost btn-sm btn-danger-text" onClick={() => setConfirmDelete(s)} aria-label={t('forms.deleteAria', { name: s.name })} data-testid={`hook-delete-${s.id}`}>
                      {t('common.delete')}
                    </button>
                  </td>
                </tr>
              ))
            )}
          </tbody>
        </table>
      </div>
      <FormsHelp url={sources?.find((s) => s.url)?.url} />
      {confirmDelete && (
        <ConfirmDialog
          title={t('forms.deleteTitle')}
          text={t('forms.deleteText', { name: confirmDelete.name })}
          confirmLabel={t('common.delete')}
          danger
          onConfirm={doDelete}
          onCancel={() => setConfirmDelete(null)}
        />
      )}
    </div>
  );
}
