// The run history's filters (scenario, status, deal, client, recipient, period) and «Скачать CSV»
// (issue #19).
import { useState } from 'react';
import { errorText } from '../api.js';
import { statusLabel, useI18n } from '../i18n.js';
import { clientHash } from '../router.js';
import { EMPTY_FILTERS, RUN_STATUSES, downloadRunsCsv } from '../runHistory.js';

/** `flows` (every scenario's id and name) adds the scenario filter: the history of every scenario. */
export function RunFilters({ filters, onApply, query, onError, flows, children }) {
  const { t, lang } = useI18n();
  const [draft, setDraft] = useState(filters);
  const [busy, setBusy] = useState(false);
  const set = (key) => (e) => setDraft((d) => ({ ...d, [key]: e.target.value }));
  const submit = (e) => {
    e.preventDefault();
    onApply(draft);
  };
  const reset = () => {
    setDraft(EMPTY_FILTERS);
    onApply(EMPTY_FILTERS);
  };
  const download = async () => {
    setBusy(true);
    try {
      await downloadRunsCsv(query);
    } catch (err) {
      onError(errorText(err, t));
    } finally {
      setBusy(false);
    }
  };
  const text = (key, placeholder, title) => (
    <input
      className="input input-sm" value={draft[key]} onChange={set(key)} placeholder={placeholder} title={title}
      aria-label={t(`history.${key}`)} data-testid={`runs-filter-${key}`}
    />
  );
  return (
    <form className="run-filters" onSubmit={submit} data-testid="runs-filters">
      {flows && (
        <select className="input input-sm" value={draft.flow_id} onChange={set('flow_id')} aria-label={t('history.flow_id')} data-testid="runs-filter-flow_id">
          <option value="">{t('history.anyFlow')}</option>
          {flows.map((f) => <option key={f.id} value={f.id}>{f.name}</option>)}
        </select>
      )}
      <select className="input input-sm" value={draft.status} onChange={set('status')} aria-label={t('history.status')} data-testid="runs-filter-status">
        <option value="">{t('history.anyStatus')}</option>
        {RUN_STATUSES.map((s) => <option key={s} value={s}>{statusLabel(lang, s)}</option>)}
      </select>
      {text('order_id', t('history.order_id'))}
      {text('client_id', t('history.client_id'))}
      {text('recipient', t('history.recipient'), t('history.recipientHint'))}
      <label className="run-filter-date">
        {t('history.since')}
        <input type="date" className="input input-sm" value={draft.since} onChange={set('since')} data-testid="runs-filter-since" />
      </label>
      <label className="run-filter-date">
        {t('history.until')}
        <input type="date" className="input input-sm" value={draft.until} onChange={set('until')} data-testid="runs-filter-until" />
      </label>
      <div className="run-filter-actions">
        <button type="submit" className="btn btn-sm btn-primary" data-testid="runs-filter-apply">{t('history.apply')}</button>
        <button type="button" className="btn btn-sm btn-ghost" onClick={reset} data-testid="runs-filter-reset">{t('history.reset')}</button>
        <button type="button" className="btn btn-sm" onClick={download} disabled={busy} data-testid="runs-csv">{t('history.csv')}</button>
        {children}
      </div>
    </form>
  );
}

/** Deal, amount, client and recipient of a run, in its summary line. */
export function RunWho({ run }) {
  const { t, lang } = useI18n();
  const { order, client, recipient } = run;
  if (!order && !client && !recipient) return null;
  const amount = order && typeof order.price === 'number'
    ? order.price.toLocaleString(lang === 'en' ? 'en-GB' : 'ru-RU', { maximumFractionDigits: 2 })
    : null;
  return (
    <span className="run-who" data-testid={`run-who-${run.id}`}>
      {order && (
        <span className="run-deal" data-testid={`run-deal-${run.id}`}>
          {t('history.deal', { id: order.id })}
          {amount !== null && ` · ${t('history.amount', { amount })}`}
          {order.status && ` · ${order.status}`}
        </span>
      )}
      {client && (
        <a className="run-client" href={clientHash(client.id)} title={t('client.open')} data-testid={`run-client-${run.id}`}>
          {client.name || t('history.clientId', { id: client.id })}
        </a>
      )}
      {recipient && <span className="run-recipient muted" data-testid={`run-recipient-${run.id}`}>→ {recipient}</span>}
    </span>
  );
}
