// The CSV import of «Список отписки»: pick a file, send it, show the counts and every bad line.
import { useRef, useState } from 'react';
import { api, errorText } from '../api.js';
import { useI18n } from '../i18n.js';

export function SuppressionImport({ onImported, onError }) {
  const { t } = useI18n();
  const input = useRef(null);
  const [file, setFile] = useState(null);
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState(null);

  const submit = async (e) => {
    e.preventDefault();
    if (!file) return;
    setBusy(true);
    setResult(null);
    try {
      const answer = await api.importSuppressions(file);
      setResult({ ...answer, ok: true });
      onImported();
      if (input.current) input.current.value = '';
      setFile(null);
    } catch (err) {
      const problems = err?.problem?.errors;
      if (err.status === 422 && Array.isArray(problems)) setResult({ imported: 0, duplicates: 0, errors: problems, ok: false });
      else onError(errorText(err, t));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="card forms-create" onSubmit={submit} data-testid="optout-import">
      <h2 className="card-title">{t('optout.importTitle')}</h2>
      <p className="muted small">{t('optout.importHelp')}</p>
      <div className="forms-create-row">
        <input ref={input} type="file" accept=".csv,text/csv,text/plain" aria-label={t('optout.importFile')} onChange={(e) => setFile(e.target.files?.[0] || null)} data-testid="optout-file" />
        <button type="submit" className="btn" disabled={busy || !file} data-testid="optout-import-submit">
          {t('optout.import')}
        </button>
      </div>
      {result && (
        <div className={`optout-result${result.ok ? '' : ' text-danger'}`} role="status" data-testid="optout-import-result">
          <p>
            {result.ok
              ? t('optout.importResult', { imported: result.imported, duplicates: result.duplicates, errors: result.errors.length })
              : t('optout.importNothing')}
          </p>
          {result.errors.length > 0 && (
            <ul className="optout-errors" data-testid="optout-import-errors">
              {result.errors.slice(0, 50).map((p, i) => (
                <li key={i}>{p.line ? t('optout.importLine', { line: p.line, message: p.message }) : p.message}</li>
              ))}
            </ul>
          )}
        </div>
      )}
    </form>
  );
}
