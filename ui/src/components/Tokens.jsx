// «Токены доступа»: the API tokens with their scope and last use; create one, revoke one.
import { useState } from 'react';
import { api, errorText } from '../api.js';
import { useI18n } from '../i18n.js';
import { Banner, ConfirmDialog, formatTime } from './common.jsx';
import { useLoadedList } from './useLoadedList.js';
import { CreateTokenForm, NewTokenDialog } from './TokenParts.jsx';

export function Tokens({ onToast }) {
  const { t, lang } = useI18n();
  const { items: tokens, setItems: setTokens, error, setError, load } = useLoadedList(api.tokens, t);
  const [busy, setBusy] = useState(false);
  const [created, setCreated] = useState(null);
  const [confirmRevoke, setConfirmRevoke] = useState(null);

  const create = async (name, scope) => {
    setBusy(true);
    try {
      const token = await api.createToken(name, scope);
      setCreated(token);
      setError(null);
      load();
      return true;
    } catch (err) {
      setError(errorText(err, t));
      return false;
    } finally {
      setBusy(false);
    }
  };

  const revoke = async () => {
    const token = confirmRevoke;
    setConfirmRevoke(null);
    try {
      await api.revokeToken(token.id);
      setTokens((list) => list.filter((x) => x.id !== token.id));
      onToast('tokens.revoked');
    } catch (err) {
      setError(errorText(err, t));
    }
  };

  const label = (token) => token.name || t('tokens.unnamed');

  return (
    <div className="page">
      <div className="page-head">
        <h1 className="page-title">{t('tokens.title')}</h1>
      </div>
      <p className="muted token-intro">{t('tokens.intro')}</p>
      {error && (
        <Banner onClose={() => setError(null)} testId="tokens-error">
          {error}
        </Banner>
      )}
      <CreateTokenForm onCreate={create} busy={busy} />
      <div className="card table-card">
        <table className="flow-table" data-testid="token-table">
          <thead>
            <tr>
              <th scope="col">{t('tokens.colName')}</th>
              <th scope="col">{t('tokens.colScope')}</th>
              <th scope="col">{t('tokens.colCreated')}</th>
              <th scope="col">{t('tokens.colLastUsed')}</th>
              <th scope="col" className="col-actions"><span className="visually-hidden">{t('tokens.colActions')}</span></th>
            </tr>
          </thead>
          <tbody>
            {tokens === null ? (
              <tr>
                <td colSpan={5} className="empty-cell" role="status">{t('app.loading')}</td>
              </tr>
            ) : tokens.length === 0 ? (
              <tr>
                <td colSpan={5} className="empty-cell" data-testid="tokens-empty">{t('tokens.empty')}</td>
              </tr>
            ) : (
              tokens.map((token) => (
                <tr key={token.id} data-testid={`token-row-${token.id}`}>
                  <td>
                    {label(token)}
                    {token.current && <span className="badge token-current">{t('tokens.current')}</span>}
                  </td>
                  <td data-testid={`token-scope-${token.id}`}>{t(`scope.${token.scope}`)}</td>
                  <td>{formatTime(token.created_at, lang)}</td>
                  <td data-testid={`token-used-${token.id}`}>
                    {token.last_used_at ? formatTime(token.last_used_at, lang) : <span className="muted">{t('tokens.never')}</span>}
                  </td>
                  <td className="col-actions">
                    <button
                      type="button"
                      className="btn btn-ghost btn-sm btn-danger-text"
                      onClick={() => setConfirmRevoke(token)}
                      disabled={token.current}
                      title={token.current ? t('tokens.currentHint') : undefined}
                      aria-label={t('tokens.revokeAria', { name: label(token) })}
                      data-testid={`token-revoke-${token.id}`}
                    >
                      {t('tokens.revoke')}
                    </button>
                  </td>
                </tr>
              ))
            )}
          </tbody>
        </table>
      </div>
      {created && <NewTokenDialog token={created} onClose={() => setCreated(null)} />}
      {confirmRevoke && (
        <ConfirmDialog
          title={t('tokens.revokeTitle')}
          text={t('tokens.revokeText', { name: label(confirmRevoke) })}
          confirmLabel={t('tokens.revoke')}
          danger
          onConfirm={revoke}
          onCancel={() => setConfirmRevoke(null)}
        />
      )}
    </div>
  );
}
