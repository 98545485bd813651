// «Отправить тестовое сообщение»: one action of the saved scenario really sent, once, to a chosen
// recipient on the test's data (POST /api/v1/flows/{id}/nodes/{node_id}/send-test); the run goes to
// the history as a test run.
import { useId, useState } from 'react';
import { ApiError, api, errorText } from '../api.js';
import { useCatalog } from '../catalog.js';
import { pick, useI18n } from '../i18n.js';
import { Banner, StatusBadge } from './common.jsx';
import { StepList } from './Steps.jsx';

const RECIPIENT = { 'action.email': 'email', 'action.sms': 'phone', 'action.telegram': 'chat_id' };

export function SendTest({ flowId, doc, nodeTypes, getBody }) {
  const { t, lang } = useI18n();
  const { byType } = useCatalog();
  const actions = (doc?.nodes || []).filter((n) => String(n.type).startsWith('action.'));
  const [nodeId, setNodeId] = useState(actions[0]?.id || '');
  const [address, setAddress] = useState('');
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState(null);
  const [error, setError] = useState(null);
  const id = useId();
  const node = actions.find((n) => n.id === nodeId) || actions[0];
  const field = node ? RECIPIENT[node.type] : null;

  if (!flowId) return <p className="muted small" data-testid="send-unsaved">{t('send.unsaved')}</p>;
  if (!node) return <p className="muted small">{t('send.noActions')}</p>;

  const send = async () => {
    if ((field === 'email' || field === 'phone') && !address.trim()) {
      setResult(null);
      setError(t(`send.need.${field}`));
      return;
    }
    const body = getBody();
    if (!body) return;
    setBusy(true);
    setError(null);
    setResult(null);
    try {
      const recipient = field && address.trim() ? { [field]: address.trim() } : undefined;
      setResult(await api.sendTest(flowId, node.id, { ...body, recipient }));
    } catch (err) {
      const problems = err instanceof ApiError ? err.problem?.errors || [] : [];
      setError([errorText(err, t), ...problems.map((e) => e.message)].join(' — '));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="send-test" data-testid="send-test">
      <h3 className="panel-subtitle">{t('send.title')}</h3>
      <p className="muted small">{t('send.hint')}</p>
      <label className="field-label" htmlFor={`${id}-node`}>{t('send.node')}</label>
      <select id={`${id}-node`} className="input" value={node.id} onChange={(e) => (setNodeId(e.target.value), setResult(null))} data-testid="send-node">
        {actions.map((n) => (
          <option key={n.id} value={n.id}>
            {(byType[n.type] ? pick(byType[n.type].title, lang) : n.type) + ` (${n.id})`}
          </option>
        ))}
      </select>
      {field ? (
        <>
          <label className="field-label" htmlFor={`${id}-to`}>{t(`send.${field}`)}</label>
          <input id={`${id}-to`} className="input" type={field === 'email' ? 'email' : 'text'} value={address} onChange={(e) => setAddress(e.target.value)} data-testid="send-recipient" />
        </>
      ) : (
        <p className="muted small">{t('send.configured')}</p>
      )}
      <button type="button" className="btn" onClick={send} disabled={busy} data-testid="send-button">
        {busy ? t('send.sending') : t('send.button')}
      </button>
      {error && (
        <Banner onClose={() => setError(null)} testId="send-error">
          {error}
        </Banner>
      )}
      {result && (
        <div className="test-result" data-testid="send-result">
          <p>
            {t('send.done', { status: '' })}
            <StatusBadge status={result.status} />
          </p>
          <StepList steps={[{ node_id: node.id, type: node.type, ...result, verdict: null }]} nodeTypes={nodeTypes} />
        </div>
      )}
    </section>
  );
}
