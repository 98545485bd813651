// Import of flows from a file or pasted JSON; on a name or id collision it asks «Копия / Заменить / Отмена».
import { useId, useState } from 'react';
import { errorText } from '../api.js';
import { flowsApi } from '../apiFlows.js';
import { useI18n } from '../i18n.js';
import { Modal } from './common.jsx';

export function ImportDialog({ onClose, onImported }) {
  const { t } = useI18n();
  const [text, setText] = useState('');
  const [errors, setErrors] = useState([]);
  const [busy, setBusy] = useState(false);
  const [conflict, setConflict] = useState(null); // {body, errors} of a 409 to answer
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
    send(body, 'fail');
  };

  const send = async (body, mode) => {
    setBusy(true);
    setConflict(null);
    try {
      const flows = await flowsApi.importFlows(body, mode);
      onImported(flows);
    } catch (err) {
      if (err?.status === 409 && mode === 'fail') {
        setConflict({ body, errors: err.problem?.errors || [] });
        setErrors([]);
        return;
      }
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
      {conflict && <ImportConflict conflict={conflict} onAnswer={(mode) => (mode ? send(conflict.body, mode) : setConflict(null))} busy={busy} />}
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

function ImportConflict({ conflict, onAnswer, busy }) {
  const { t } = useI18n();
  return (
    <div className="banner banner-info" role="alertdialog" aria-label={t('import.conflictTitle')} data-testid="import-conflict">
      <div className="banner-body">
        <strong>{t('import.conflictTitle')}</strong>
        <p className="small">{t('import.conflictText')}</p>
        <ul className="problem-list">
          {conflict.errors.map((e, i) => (
            <li key={i}>{e.existing ? t('import.conflictItem', { name: e.existing.name }) : e.message}</li>
          ))}
        </ul>
        <div className="version-actions">
          <button type="button" className="btn btn-sm btn-primary" disabled={busy} onClick={() => onAnswer('copy')} data-testid="import-copy" data-autofocus>
            {t('import.copy')}
          </button>
          <button type="button" className="btn btn-sm" disabled={busy} onClick={() => onAnswer('replace')} data-testid="import-replace">
            {t('import.replace')}
          </button>
          <button type="button" className="btn btn-sm" onClick={() => onAnswer(null)} data-testid="import-conflict-cancel">
            {t('import.cancel')}
          </button>
        </div>
      </div>
    </div>
  );
}
