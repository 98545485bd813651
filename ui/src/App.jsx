// The shell: language, login, header, and which screen is shown.
import { Suspense, lazy, useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { api, errorText, setRequestLanguage, setUnauthorizedHandler } from './api.js';
import { getToken, setToken } from './auth.js';
import { CatalogContext } from './catalog.js';
import { DEFAULT_LANG, I18nContext, LANGS, translate } from './i18n.js';
import { navigate, useHashRoute } from './router.js';
import { Banner } from './components/common.jsx';
import { FlowList } from './components/FlowList.jsx';
import { Login } from './components/Login.jsx';
import { Tokens } from './components/Tokens.jsx';
import { SiteForms } from './components/SiteForms.jsx';
import { ConnectionsPage } from './components/ConnectionsPage.jsx';
import { Suppressions } from './components/Suppressions.jsx';
import { RunHistoryPage } from './components/RunHistoryPage.jsx';
import { ClientCard } from './components/ClientCard.jsx';

const LANG_KEY = 'automation-lang';

// The editor (React Flow + rjsf) is its own chunk, so the scenario list opens without it.
const Editor = lazy(() => import('./editor/Editor.jsx').then((m) => ({ default: m.Editor })));
// «Обзор» draws with ECharts: its own chunk too
const Overview = lazy(() => import('./components/Overview.jsx').then((m) => ({ default: m.Overview })));
// the header's sections: [route name, address, label]; «Сценарии» is current in the editor too
const NAV = [
  ['list', '#/', 'nav.flows'],
  ['overview', '#/overview', 'nav.overview'],
  ['runs', '#/runs', 'nav.runs'],
  ['connections', '#/connections', 'nav.connections'],
  ['forms', '#/forms', 'nav.forms'],
  ['optout', '#/optout', 'nav.optout'],
  ['tokens', '#/tokens', 'nav.tokens'],
];
const NAV_IDS = { list: 'nav-flows' };

function initialLang() {
  try {
    const saved = window.localStorage.getItem(LANG_KEY);
    if (LANGS.includes(saved)) return saved;
  } catch {
    /* storage may be disabled */
  }
  return DEFAULT_LANG;
}

export function App() {
  const [lang, setLangState] = useState(initialLang);
  setRequestLanguage(lang); // before any child's first request
  const [token, setTokenState] = useState(() => getToken());
  const [expired, setExpired] = useState(false);
  const [catalog, setCatalog] = useState(null);
  const [catalogError, setCatalogError] = useState(null);
  const [toast, setToastState] = useState(null);
  // Toasts keep the message key, so switching the language translates a visible one too.
  const setToast = useCallback((key, vars) => setToastState({ key, vars, at: Date.now() }), []);
  const leaveGuard = useRef(null);
  const route = useHashRoute(leaveGuard);
  const current = NAV.some(([name]) => name === route.name) ? route.name : route.name === 'editor' ? 'list' : null;

  const setLang = useCallback((l) => {
    setLangState(l);
    try {
      window.localStorage.setItem(LANG_KEY, l);
    } catch {
      /* ignore */
    }
  }, []);
  const i18n = useMemo(() => ({ lang, setLang, t: (key, vars) => translate(lang, key, vars) }), [lang, setLang]);
  const { t } = i18n;

  useEffect(() => {
    document.documentElement.lang = lang;
    document.title = `${translate(lang, 'app.title')} — ${translate(lang, 'app.flows')}`;
  }, [lang]);

  useEffect(() => {
    setUnauthorizedHandler(() => {
      setToken('');
      setTokenState('');
      setExpired(true);
    });
  }, []);

  const loadCatalog = useCallback(async () => {
    setCatalogError(null);
    try {
      const [nodes, variables] = await Promise.all([api.nodes(), api.variables().catch(() => [])]);
      setCatalog({ nodes, variables, byType: Object.fromEntries(nodes.map((n) => [n.type, n])) });
    } catch (err) {
      if (err.status !== 401) setCatalogError(err);
    }
  }, []);

  useEffect(() => {
    if (token) loadCatalog();
  }, [token, loadCatalog]);

  useEffect(() => {
    if (!toast) return undefined;
    const id = setTimeout(() => setToastState(null), 4000);
    return () => clearTimeout(id);
  }, [toast]);

  const login = (value) => {
    setToken(value);
    setTokenState(value);
    setExpired(false);
  };
  const logout = () => {
    setToken('');
    setTokenState('');
    setCatalog(null);
  };
  const goList = async () => {
    if (leaveGuard.current?.dirty && !(await leaveGuard.current.confirm())) return;
    if (leaveGuard.current) leaveGuard.current = { ...leaveGuard.current, dirty: false };
    navigate('#/');
  };

  return (
    <I18nContext.Provider value={i18n}>
      <a href="#main" className="skip-link" onClick={(e) => { e.preventDefault(); document.getElementById('main')?.focus(); }}>
        {t('app.skipToContent')}
      </a>
      <header className="app-header">
        <div className="header-left">
          <button type="button" className="brand" onClick={goList} data-testid="nav-home">
            <span className="brand-mark" aria-hidden="true" />
            <span className="brand-text">{t('app.title')}</span>
          </button>
          {token && (
            <nav className="main-nav" aria-label={t('nav.main')}>
              {NAV.map(([name, href, label]) => (
                <a key={name} href={href} aria-current={current === name ? 'page' : undefined} data-testid={NAV_IDS[name] || `nav-${name}`}>
                  {t(label)}
                </a>
              ))}
            </nav>
          )}
        </div>
        <div className="header-tools">
          <div className="lang-switch" role="group" aria-label={t('app.language')}>
            {LANGS.map((l) => (
              <button
                key={l}
                type="button"
                className={`lang-btn${l === lang ? ' active' : ''}`}
                aria-pressed={l === lang}
                onClick={() => setLang(l)}
                data-testid={`lang-${l}`}
              >
                {l.toUpperCase()}
              </button>
            ))}
          </div>
          {token && (
            <button type="button" className="btn btn-ghost btn-sm" onClick={logout} data-testid="logout">
              {t('app.logout')}
            </button>
          )}
        </div>
      </header>
      <main id="main" tabIndex={-1} className="app-main">
        {!token ? (
          <Login onLogin={login} expired={expired} />
        ) : catalogError ? (
          <div className="page">
            <Banner>
              {errorText(catalogError, t)}{' '}
              <button type="button" className="btn btn-sm" onClick={loadCatalog}>
                {t('common.refresh')}
              </button>
            </Banner>
          </div>
        ) : !catalog ? (
          <div className="page loading" role="status">{t('app.loading')}</div>
        ) : (
          <CatalogContext.Provider value={catalog}>
            {route.name === 'editor' ? (
              <Suspense fallback={<div className="page loading" role="status">{t('app.loading')}</div>}>
                <Editor key={route.id} routeId={route.id} onToast={setToast} leaveGuard={leaveGuard} />
              </Suspense>
            ) : route.name === 'overview' ? (
              <Suspense fallback={<div className="page loading" role="status">{t('app.loading')}</div>}>
                <Overview />
              </Suspense>
            ) : route.name === 'runs' ? (
              <RunHistoryPage search={route.search} onToast={setToast} />
            ) : route.name === 'client' ? (
              <ClientCard key={route.id} clientId={route.id} />
            ) : route.name === 'forms' ? (
              <SiteForms onToast={setToast} />
            ) : route.name === 'connections' ? (
              <ConnectionsPage onToast={setToast} />
            ) : route.name === 'optout' ? (
              <Suppressions onToast={setToast} />
            ) : route.name === 'tokens' ? (
              <Tokens onToast={setToast} />
            ) : (
              <FlowList onToast={setToast} />
            )}
          </CatalogContext.Provider>
        )}
      </main>
      <div className="toast-area" aria-live="polite">
        {toast && (
          <div className="toast" data-testid="toast">
            {t(toast.key, toast.vars)}
          </div>
        )}
      </div>
    </I18nContext.Provider>
  );
}
