// Import of flows from a file or pasted JSON.
import { useId, useState } from 'react';
import { api, errorText } from '../api.js';
import { useI18n } from '../i18n.js';
import { Modal } from './common.jsx';

export function ImportDialog({ onClose, onImported }) {
  const { t } = useI18n();
  const [text, setText] = useState('');
  const [errors, setErrors] = useState([]);
  const [busy, setBusy] = useState(false);
  const fileId = useId();
  const textId = useId();

  const onFile = async (e) => {
    const file = e.target.files?.[0];
    if (!file) return;
    setText(await file.text());
    setErrors([]);
  };

  const submit = async () => {
    if (!text.trim()) {
      setErrors([t('import.empty')]);
      return;
    }
    let body;
    try {
      body = JSON.parse(text);
    } catch (err) {
      setErrors([t('import.badJson', { message: err.message })]);
      return;
    }
    setBusy(true);
    try {
      const flows = await api.importFlows(body);
      onImported(flows);
    } catch (err) {
      const list = err?.problem?.errors;
      setErrors(
        Array.isArray(list) && list.length
          ? list.map((x) => `${x.path || '/'}: ${x.message}`)
          : [errorText(err, t)],
      );
    } finally {
      setBusy(false);
    }
  };

  return (
    <Modal
      title={t('import.title')}
      onClose={onClose}
      testId="import-dialog"
      wide
      footer={
        <>
          <button type="button" className="btn btn-primary" onClick={submit} disabled={busy} data-testid="import-submit">
            {t('import.submit')}
          </button>
          <button type="button" className="btn" onClick={onClose}>
            {t('common.cancel')}
          </button>
        </>
      }
    >
      <p className="muted small">{t('import.hint')}</p>
      <label htmlFor={fileId} className="field-label">{t('import.file')}</label>
      <input id={fileId} type="file" accept=".json,application/json" onChange={onFile} data-testid="import-file" />
      <label htmlFor={textId} className="field-label">{t('import.paste')}</label>
      <textarea
        id={textId}
        className="input code"
        rows={12}
        value={text}
        onChange={(e) => setText(e.target.value)}
        spellCheck={false}
        data-testid="import-text"
      />
      {errors.length > 0 && (
        <ul className="error-list" role="alert" data-testid="import-errors">
          {errors.map((m, i) => (
            <li key={i}>{m}</li>
          ))}
        </ul>
      )}
    </Modal>
  );
}
