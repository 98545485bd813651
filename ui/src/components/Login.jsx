// The login screen: one token field.
import { useId, useState } from 'react';
import { useI18n } from '../i18n.js';
import { Banner } from './common.jsx';

export function Login({ onLogin, expired }) {
  const { t } = useI18n();
  const [value, setValue] = useState('');
  const id = useId();
  return (
    <div className="login-page">
      <form
        className="card login-card"
        onSubmit={(e) => {
          e.preventDefault();
          if (value.trim()) onLogin(value.trim());
        }}
        data-testid="login-form"
      >
        <h1 className="page-title">{t('login.title')}</h1>
        {expired && <Banner testId="login-expired">{t('login.expired')}</Banner>}
        <p className="muted">{t('login.text')}</p>
        <label htmlFor={id} className="field-label">
          {t('login.token')}
        </label>
        <input
          id={id}
          className="input"
          type="password"
          autoComplete="current-password"
          value={value}
          onChange={(e) => setValue(e.target.value)}
          data-testid="login-token"
          autoFocus
        />
        <button type="submit" className="btn btn-primary" disabled={!value.trim()} data-testid="login-submit">
          {t('login.submit')}
        </button>
      </form>
    </div>
  );
}
