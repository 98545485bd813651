// A client's card (#/clients/<id>, issue #19): name, phone and e-mail as the API gives them (masked
// where it masks them), and the timeline — visits, deals, status changes, custom events and the
// scenarios' runs, each run with its steps: what it sent, to whom, or why not.
import { useCallback, useEffect, useState } from 'react';
import { errorText } from '../api.js';
import { useI18n } from '../i18n.js';
import { flowHash } from '../router.js';
import { loadRuns } from '../runHistory.js';
import { statsApi } from '../statsApi.js';
import { formatMoney } from '../stats.js';
import { timelineItems, visitSource } from '../timeline.js';
import { Banner, JsonView, StatusBadge, formatTime } from './common.jsx';
import { StepList } from './Steps.jsx';
import '../styles/stats.css';

export function ClientCard({ clientId }) {
  const { t, lang } = useI18n();
  const [client, setClient] = useState(null);
  const [runs, setRuns] = useState({});
  const [error, setError] = useState(null);

  const load = useCallback(async () => {
    try {
      const [card, page] = await Promise.all([
        statsApi.client(clientId),
        loadRuns(new URLSearchParams({ client_id: clientId }).toString(), null, 50).catch(() => null),
      ]);
      setClient(card);
      setRuns(Object.fromEntries((page?.runs || []).map((r) => [r.id, r])));
      setError(null);
    } catch (err) {
      if (err.status !== 401) setError(err.status === 404 ? t('client.notFound', { id: clientId }) : errorText(err, t));
    }
  }, [clientId, t]);

  useEffect(() => {
    load();
  }, [load]);

  const items = client ? timelineItems(client.timeline) : [];
  return (
    <div className="page" data-testid="client-card">
      <div className="page-head">
        <h1 className="page-title">{client ? client.name || t('history.clientId', { id: clientId }) : t('client.title')}</h1>
        <div className="page-actions">
          <a className="btn" href={`#/runs?client_id=${encodeURIComponent(clientId)}`} data-testid="client-runs">{t('client.runs')}</a>
        </div>
      </div>
      {error && <Banner testId="client-error">{error}</Banner>}
      {!client && !error && <p className="muted" role="status">{t('app.loading')}</p>}
      {client && (
        <>
          <dl className="card client-facts" data-testid="client-facts">
            <Fact label={t('client.id')} value={client.external_id} testId="client-id" />
            <Fact label={t('client.phone')} value={client.phone} testId="client-phone" />
            <Fact label={t('client.email')} value={client.email} testId="client-email" />
            <Fact label={t('client.company')} value={client.company} testId="client-company" />
            <Fact label={t('client.since')} value={client.created_at && formatTime(client.created_at, lang)} />
          </dl>
          {client.fields && Object.keys(client.fields).length > 0 && (
            <details className="client-fields">
              <summary>{t('client.fields')}</summary>
              <JsonView value={client.fields} />
            </details>
          )}
          <h2 className="section-title stats-heading">{t('client.timeline')}</h2>
          {items.length === 0 ? (
            <p className="muted" data-testid="timeline-empty">{t('client.noTimeline')}</p>
          ) : (
            <ol className="timeline card" data-testid="timeline">
              {items.map(({ kind, at, item }, i) => (
                <li key={`${kind}-${item.id ?? i}`} className={`timeline-item timeline-${kind}`} data-testid={`timeline-${kind}-${item.id ?? i}`} data-kind={kind}>
                  <time className="timeline-time" dateTime={at || undefined}>{formatTime(at, lang)}</time>
                  <span className={`timeline-kind kind-${kind}`}>{t(`timeline.${kind}`)}</span>
                  <div className="timeline-what">
                    <Entry kind={kind} item={item} run={kind === 'run' ? runs[item.id] : null} />
                  </div>
                </li>
              ))}
            </ol>
          )}
        </>
      )}
    </div>
  );
}

function Fact({ label, value, testId }) {
  return (
    <div className="client-fact">
      <dt>{label}</dt>
      <dd data-testid={testId}>{value || '—'}</dd>
    </div>
  );
}

/** One line of the timeline, by kind; a run also lists its steps (from the run history). */
function Entry({ kind, item, run }) {
  const { t, lang } = useI18n();
  if (kind === 'order') {
    const parts = [t('history.deal', { id: item.id })];
    if (typeof item.price === 'number') parts.push(formatMoney(item.price, lang));
    if (item.status) parts.push(item.status);
    return <span>{parts.join(' · ')}</span>;
  }
  if (kind === 'visit') {
    const source = visitSource(item);
    return <span>{[t('timeline.visitId', { id: item.id }), source, item.city].filter(Boolean).join(' · ')}</span>;
  }
  if (kind === 'status') {
    return <span>{t('timeline.statusChange', { id: item.order_id ?? '', from: item.from ?? item.from_status ?? '—', to: item.to ?? item.to_status ?? item.status ?? '—' })}</span>;
  }
  if (kind === 'event') {
    return (
      <span>
        «{item.name}»
        {item.data && Object.keys(item.data).length > 0 && <code className="timeline-data">{JSON.stringify(item.data)}</code>}
      </span>
    );
  }
  if (kind === 'run') {
    const steps = item.steps || run?.steps;
    return (
      <div>
        <StatusBadge status={item.status} />{' '}
        {item.flow_id ? <a href={flowHash(item.flow_id)}>{item.flow_name || item.flow_id}</a> : item.flow_name}
        {item.order_id && <span className="muted small"> · {t('history.deal', { id: item.order_id })}</span>}
        {(run?.recipient || item.recipient) && <span className="muted small"> → {run?.recipient || item.recipient}</span>}
        {steps?.length > 0 && (
          <details className="timeline-steps">
            <summary>{t('client.whatSent')}</summary>
            <StepList steps={steps} showAttempts />
          </details>
        )}
      </div>
    );
  }
  return <JsonView value={item} />;
}
