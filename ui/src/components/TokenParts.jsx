// Pieces of «Токены доступа»: the create form (name + scope in plain words) and the new token, shown once.
import { useId, useRef, useState } from 'react';
import { useI18n } from '../i18n.js';
import { Modal } from './common.jsx';

export const SCOPES = ['ingest', 'read', 'admin'];

export function CreateTokenForm({ onCreate, busy }) {
  const { t } = useI18n();
  const [name, setName] = useState('');
  const [scope, setScope] = useState('ingest');
  const nameId = useId();
  const scopeId = useId();
  const hintId = useId();
  const submit = async (e) => {
    e.preventDefault();
    if (await onCreate(name.trim(), scope)) setName('');
  };
  return (
    <form className="card token-form" onSubmit={submit} data-testid="token-form">
      <div className="token-form-field">
        <label htmlFor={nameId} className="field-label">{t('tokens.name')}</label>
        <input
          id={nameId}
          className="input"
          value={name}
          maxLength={200}
          placeholder={t('tokens.namePlaceholder')}
          onChange={(e) => setName(e.target.value)}
          data-testid="token-name"
        />
      </div>
      <div className="token-form-field">
        <label htmlFor={scopeId} className="field-label">{t('tokens.scope')}</label>
        <select
          id={scopeId}
          className="input"
          value={scope}
          onChange={(e) => setScope(e.target.value)}
          aria-describedby={hintId}
          data-testid="token-scope"
        >
          {SCOPES.map((s) => (
            <option key={s} value={s}>{t(`scope.${s}`)}</option>
          ))}
        </select>
      </div>
      <button type="submit" className="btn btn-primary" disabled={busy} data-testid="token-create">
        {t('tokens.create')}
      </button>
      <p id={hintId} className="muted small token-form-hint" data-testid="token-scope-hint">{t(`scope.${scope}Hint`)}</p>
    </form>
  );
}

/** The token right after its creation: the only time it is shown, with a copy button. */
export function NewTokenDialog({ token, onClose }) {
  const { t } = useI18n();
  const [copied, setCopied] = useState(null);
  const inputRef = useRef(null);
  const inputId = useId();
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(token.token);
      setCopied('tokens.copied');
    } catch {
      inputRef.current?.select();
      setCopied('tokens.copyFailed');
    }
  };
  return (
    <Modal
      title={t('tokens.createdTitle')}
      onClose={onClose}
      testId="token-created"
      footer={
        <button type="button" className="btn btn-primary" onClick={onClose} data-testid="token-created-close">
          {t('tokens.done')}
        </button>
      }
    >
      <p>{t('tokens.createdText')}</p>
      <p className="muted small">
        {token.name || t('tokens.unnamed')} · {t(`scope.${token.scope}`)}
      </p>
      <label htmlFor={inputId} className="field-label">{t('tokens.value')}</label>
      <div className="token-copy-row">
        <input
          id={inputId}
          ref={inputRef}
          className="input token-value"
          readOnly
          value={token.token}
          onFocus={(e) => e.target.select()}
          data-testid="token-value"
        />
        <button type="button" className="btn" onClick={copy} data-autofocus data-testid="token-copy">
          {t('tokens.copy')}
        </button>
      </div>
      {copied && (
        <p className="small" role="status" data-testid="token-copied">{t(copied)}</p>
      )}
    </Modal>
  );
}
