// Test run: an editable sample context, a dry run of the current document, the steps.
import { useId, useState } from 'react';
import { ApiError, api, errorText } from '../api.js';
import { useI18n } from '../i18n.js';
import { Banner, StatusBadge } from './common.jsx';
import { StepList } from './Steps.jsx';

export const SAMPLE_CONTEXT = {
  visit: {
    id: '12345',
    ip: '123.45.67.89',
    city: 'Москва',
    country: 'Россия',
    utm_source: 'yandex',
    domain: 'site.com',
    landing_page: 'site.com/test/page',
    marker: 'test_page_post',
    referrer: 'testpage.com',
  },
  order: { id: '100', price: 12000, cost: 100, status: 'Новая', created_at: '2026-11-20T10:00:00Z' },
  client: { external_id: '2', name: 'Иван Петров', company: 'ООО Ромашка', phone: '79012223344', email: 'ivan@example.com' },
  event: null,
};

const SAMPLE_TEXT = JSON.stringify(SAMPLE_CONTEXT, null, 2);

export function TestPanel({ getDoc, savedId, nodeTypes, onResult, onProblem, onSelectNode }) {
  const { t } = useI18n();
  const [text, setText] = useState(SAMPLE_TEXT);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const [problems, setProblems] = useState([]);
  const [result, setResult] = useState(null);
  const id = useId();

  const run = async () => {
    let context;
    try {
      context = JSON.parse(text);
    } catch (err) {
      setError(t('test.badJson', { message: err.message }));
      return;
    }
    setBusy(true);
    setError(null);
    setProblems([]);
    const doc = getDoc();
    try {
      // A saved, unchanged flow is tested as stored (its secrets included); otherwise the editor's document.
      const res = savedId ? await api.testFlow(savedId, context) : await api.testDoc(doc, context);
      setResult(res);
      onResult(res);
    } catch (err) {
      setResult(null);
      onResult(null);
      if (err instanceof ApiError && err.problem?.errors?.length) {
        onProblem(err.problem, doc);
        setProblems(err.problem.errors.map((e) => `${e.path || '/'}: ${e.message}`));
      }
      setError(errorText(err, t));
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="test-panel" data-testid="test-panel">
      <h2 className="panel-title">{t('test.title')}</h2>
      <p className="muted small">{t('test.hint')}</p>
      <div className="field-row">
        <label htmlFor={id} className="field-label">{t('test.context')}</label>
        <button type="button" className="btn btn-sm btn-ghost" onClick={() => setText(SAMPLE_TEXT)}>
          {t('test.reset')}
        </button>
      </div>
      <textarea
        id={id}
        className="input code"
        rows={12}
        spellCheck={false}
        value={text}
        onChange={(e) => setText(e.target.value)}
        data-testid="test-context"
      />
      <button type="button" className="btn btn-primary" onClick={run} disabled={busy} data-testid="test-run">
        {busy ? t('test.running') : t('test.run')}
      </button>
      {error && (
        <Banner onClose={() => setError(null)} testId="test-error">
          {error}
          {problems.length > 0 && (
            <ul className="problem-list">
              {problems.map((m, i) => (
                <li key={i}>{m}</li>
              ))}
            </ul>
          )}
        </Banner>
      )}
      {result && (
        <div className="test-result" data-testid="test-result">
          <p>
            {t('test.result', { status: '' })}
            <StatusBadge status={result.status} />
          </p>
          <StepList steps={result.steps} nodeTypes={nodeTypes} onSelectNode={onSelectNode} />
        </div>
      )}
    </div>
  );
}
