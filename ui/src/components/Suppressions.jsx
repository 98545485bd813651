// «Список отписки»: the addresses e-mail and SMS steps never reach — list (search, more), add by hand,
// delete, and the CSV import (SuppressionImport.jsx).
import { useCallback, useEffect, useState } from 'react';
import { api, errorText } from '../api.js';
import { useI18n } from '../i18n.js';
import { Banner, ConfirmDialog, formatTime } from './common.jsx';
import { SuppressionImport } from './SuppressionImport.jsx';

const CHANNELS = ['all', 'email', 'sms'];

/** The body of POST /suppressions for what the user typed: an e-mail has an "@", anything else is a phone. */
export function entryFor(address, channel, reason) {
  const value = address.trim();
  return { [value.includes('@') ? 'email' : 'phone']: value, channel, reason: reason.trim() };
}

function AddForm({ onAdded, onError }) {
  const { t } = useI18n();
  const [address, setAddress] = useState('');
  const [channel, setChannel] = useState('all');
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState(false);
  const [fieldError, setFieldError] = useState(null);

  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setFieldError(null);
    try {
      onAdded(await api.addSuppression(entryFor(address, channel, reason)));
      setAddress('');
      setReason('');
    } catch (err) {
      const problems = err?.problem?.errors;
      if (Array.isArray(problems) && problems.length) setFieldError(problems.map((p) => p.message).join('; '));
      else onError(errorText(err, t));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="card forms-create" onSubmit={submit} data-testid="optout-add">
      <div className="optout-add-row">
        <label className="field-label">
          {t('optout.address')}
          <input className={`input${fieldError ? ' input-invalid' : ''}`} value={address} maxLength={320} placeholder={t('optout.addressPlaceholder')} onChange={(e) => setAddress(e.target.value)} aria-invalid={Boolean(fieldError)} data-testid="optout-address" />
        </label>
        <label className="field-label">
          {t('optout.channel')}
          <select className="input" value={channel} onChange={(e) => setChannel(e.target.value)} data-testid="optout-channel">
            {CHANNELS.map((c) => <option key={c} value={c}>{t(`optout.channel.${c}`)}</option>)}
          </select>
        </label>
        <label className="field-label optout-reason">
          {t('optout.reason')}
          <input className="input" value={reason} maxLength={500} placeholder={t('optout.reasonPlaceholder')} onChange={(e) => setReason(e.target.value)} data-testid="optout-reason" />
        </label>
        <button type="submit" className="btn btn-primary" disabled={busy || !address.trim()} data-testid="optout-submit">
          {t('optout.add')}
        </button>
      </div>
      {fieldError && <p className="field-error" role="alert" data-testid="optout-field-error">{fieldError}</p>}
    </form>
  );
}

export function Suppressions({ onToast }) {
  const { t, lang } = useI18n();
  const [items, setItems] = useState(null);
  const [cursor, setCursor] = useState(null);
  const [query, setQuery] = useState('');
  const [error, setError] = useState(null);
  const [confirmDelete, setConfirmDelete] = useState(null);

  const load = useCallback(async (q, after) => {
    try {
      const page = await api.suppressions(q, after);
      setItems((list) => (after ? [...(list || []), ...page.suppressions] : page.suppressions));
      setCursor(page.next_cursor);
    } catch (err) {
      if (err.status !== 401) setError(errorText(err, t));
    }
  }, [t]);

  useEffect(() => {
    const id = setTimeout(() => load(query, null), query ? 250 : 0);
    return () => clearTimeout(id);
  }, [query, load]);

  const added = (entry) => {
    const known = (items || []).some((s) => s.id === entry.id);
    if (!known) setItems((list) => [entry, ...(list || [])]);
    onToast(known ? 'optout.already' : 'optout.added');
  };

  const doDelete = async () => {
    const entry = confirmDelete;
    setConfirmDelete(null);
    try {
      await api.deleteSuppression(entry.id);
      setItems((list) => list.filter((s) => s.id !== entry.id));
      onToast('optout.deleted');
    } catch (err) {
      setError(errorText(err, t));
    }
  };

  const address = (s) => s.email || s.phone;
  return (
    <div className="page" data-testid="optout-page">
      <div className="page-head">
        <h1 className="page-title">{t('optout.title')}</h1>
      </div>
      <p className="muted forms-intro">{t('optout.intro')}</p>
      {error && <Banner onClose={() => setError(null)} testId="optout-error">{error}</Banner>}
      <AddForm onAdded={added} onError={setError} />
      <SuppressionImport onImported={() => load(query, null)} onError={setError} />
      <input className="input optout-search" type="search" value={query} placeholder={t('optout.search')} aria-label={t('optout.search')} onChange={(e) => setQuery(e.target.value)} data-testid="optout-search" />
      <div className="card table-card">
        <table className="flow-table" data-testid="optout-table">
          <thead>
            <tr>
              <th scope="col">{t('optout.colAddress')}</th>
              <th scope="col">{t('optout.colChannel')}</th>
              <th scope="col">{t('optout.colReason')}</th>
              <th scope="col">{t('optout.colSource')}</th>
              <th scope="col">{t('optout.colCreated')}</th>
              <th scope="col" className="col-actions"><span className="visually-hidden">{t('list.colActions')}</span></th>
            </tr>
          </thead>
          <tbody>
            {items === null ? (
              <tr><td colSpan={6} className="empty-cell" role="status">{t('app.loading')}</td></tr>
            ) : items.length === 0 ? (
              <tr><td colSpan={6} className="empty-cell" data-testid="optout-empty">{t('optout.empty')}</td></tr>
            ) : (
              items.map((s) => (
                <tr key={s.id} data-testid="optout-row">
                  <td><code>{address(s)}</code></td>
                  <td>{t(`optout.channel.${s.channel}`)}</td>
                  <td className="small">{s.reason}</td>
                  <td className="small">{t(`optout.source.${s.source}`)}</td>
                  <td className="small">{formatTime(s.created_at, lang)}</td>
                  <td className="col-actions">
                    <button type="button" className="btn btn-ghost btn-sm btn-danger-text" onClick={() => setConfirmDelete(s)} aria-label={t('optout.deleteAria', { address: address(s) })} data-testid="optout-delete">
                      {t('common.delete')}
                    </button>
                  </td>
                </tr>
              ))
            )}
          </tbody>
        </table>
      </div>
      {cursor && (
        <button type="button" className="btn btn-sm" onClick={() => load(query, cursor)} data-testid="optout-more">{t('optout.more')}</button>
      )}
      {confirmDelete && (
        <ConfirmDialog
          title={t('optout.deleteTitle')}
          text={t('optout.deleteText', { address: address(confirmDelete) })}
          confirmLabel={t('common.delete')}
          danger
          onConfirm={doDelete}
          onCancel={() => setConfirmDelete(null)}
        />
      )}
    </div>
  );
}
