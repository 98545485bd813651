// Test run: the data (a real deal, visit or event picked from the stored ones, a sample from a form,
// or JSON), a dry run of the current document that marks what a real run would hold back, the
// steps, and «Отправить тестовое сообщение».
import { useId, useState } from 'react';
import { ApiError, api, errorText } from '../api.js';
import { useI18n } from '../i18n.js';
import { SUBJECT_KEYS, jsonProblem, recordContext, recordKind, recordLabel } from '../tryout.js';
import { Banner, StatusBadge } from './common.jsx';
import { RecordPicker } from './RecordPicker.jsx';
import { SampleForm } from './SampleForm.jsx';
import { SendTest } from './SendTest.jsx';
import { StepList } from './Steps.jsx';
import '../styles/tryout.css';

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

const pretty = (value) => JSON.stringify(value, null, 2);
const SAMPLE_TEXT = pretty(SAMPLE_CONTEXT);

export function TestPanel({ getDoc, savedId, nodeTypes, onResult, onProblem, onSelectNode }) {
  const { t } = useI18n();
  const doc = getDoc();
  const eventType = (doc?.nodes || []).find((n) => String(n.type).startsWith('event.'))?.type;
  const [text, setText] = useState(SAMPLE_TEXT);
  const [subject, setSubject] = useState(null); // a stored record: {kind, id, what}
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const [problems, setProblems] = useState([]);
  const [result, setResult] = useState(null);
  const id = useId();

  const clearResult = () => {
    setResult(null);
    onResult(null);
  };

  /** The request body of the test's data: the stored record, or the JSON; null (and the error shown) when the JSON is bad. */
  const body = () => {
    if (subject) return { [SUBJECT_KEYS[subject.kind]]: subject.id };
    const problem = jsonProblem(text);
    if (problem) {
      setError(t(problem.key, problem.vars));
      setProblems([]);
      clearResult(); // the old result must not pass for this data's
      return null;
    }
    return { context: JSON.parse(text) };
  };

  const pickRecord = (kind, rec) => {
    setSubject({ kind, id: rec.id, what: recordLabel(kind, rec, t).what });
    setText(pretty(recordContext(kind, rec)));
    setError(null);
    clearResult();
  };

  const editText = (value) => {
    setText(value);
    setSubject(null); // edited by hand: the text is the data now
  };

  const run = async () => {
    const request = body();
    if (!request) return;
    setBusy(true);
    setError(null);
    setProblems([]);
    const current = getDoc();
    try {
      // A saved, unchanged flow is tested as stored (its secrets included); otherwise the editor's document.
      const res = savedId ? await api.testFlow(savedId, request) : await api.testDoc(current, request);
      setResult(res);
      onResult(res);
      if (subject && res?.context) setText(pretty(res.context)); // the exact context the run was given
    } catch (err) {
      clearResult();
      if (err instanceof ApiError && err.problem?.errors?.length) {
        onProblem(err.problem, current);
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
      <RecordPicker initialKind={recordKind(eventType)} onPick={pickRecord} />
      {subject && (
        <Banner kind="info" onClose={() => setSubject(null)} testId="test-subject">
          {t('tryout.picked', { what: subject.what })}
        </Banner>
      )}
      <SampleForm eventType={eventType} onApply={(ctx) => (editText(pretty(ctx)), clearResult())} />
      <div className="field-row">
        <label htmlFor={id} className="field-label">{t('test.context')}</label>
        <button type="button" className="btn btn-sm btn-ghost" onClick={() => editText(SAMPLE_TEXT)}>
          {t('test.reset')}
        </button>
      </div>
      <textarea
        id={id}
        className="input code"
        rows={10}
        spellCheck={false}
        value={text}
        onChange={(e) => editText(e.target.value)}
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
          {result.reason && <p className="step-error" data-testid="test-suppressed">{t('tryout.suppressed', { reason: result.reason })}</p>}
          <StepList steps={result.steps} nodeTypes={nodeTypes} onSelectNode={onSelectNode} />
        </div>
      )}
      <SendTest flowId={savedId} doc={doc} nodeTypes={nodeTypes} getBody={body} />
    </div>
  );
}
