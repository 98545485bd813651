// Hash routes, so the server only has to serve index.html at "/":
// "#/" the scenario list, "#/flows/new" a new scenario, "#/flows/<id>" the editor, "#/forms" site forms,
// "#/tokens" «Токены доступа», "#/connections" «Подключения», "#/optout" «Список отписки»,
// "#/overview" «Обзор», "#/runs?status=failed…" «Запуски» (filters in the query), "#/clients/<id>" a client.
import { useEffect, useState } from 'react';

export function parseHash(hash) {
  const path = String(hash || '').replace(/^#/, '') || '/';
  const m = path.match(/^\/flows\/([^/?#]+)\/?$/);
  if (m) return { name: 'editor', id: decodeURIComponent(m[1]) };
  if (/^\/forms\/?$/.test(path)) return { name: 'forms' };
  if (/^\/tokens\/?$/.test(path)) return { name: 'tokens' };
  if (/^\/connections\/?$/.test(path)) return { name: 'connections' };
  if (/^\/optout\/?$/.test(path)) return { name: 'optout' };
  if (/^\/overview\/?$/.test(path)) return { name: 'overview' };
  const runs = path.match(/^\/runs\/?(?:\?(.*))?$/);
  if (runs) return { name: 'runs', search: runs[1] || '' };
  const client = path.match(/^\/clients\/([^/?#]+)\/?$/);
  if (client) return { name: 'client', id: decodeURIComponent(client[1]) };
  return { name: 'list' };
}

export function flowHash(id) {
  return `#/flows/${encodeURIComponent(id)}`;
}

export function clientHash(id) {
  return `#/clients/${encodeURIComponent(id)}`;
}

/**
 * The current route. `guardRef.current`, when set, is `{ dirty: boolean, confirm: () => Promise<boolean> }`:
 * leaving a dirty editor with the browser's Back button asks first, like «Отменить» does.
 */
export function useHashRoute(guardRef) {
  const [route, setRoute] = useState(() => parseHash(window.location.hash));
  useEffect(() => {
    let passing = false;
    const onChange = (e) => {
      const next = window.location.hash;
      const prev = e?.oldURL ? new URL(e.oldURL).hash : '';
      const from = parseHash(prev);
      const to = parseHash(next);
      const leaving = from.name === 'editor' && (to.name !== 'editor' || to.id !== from.id);
      const guard = guardRef?.current;
      if (!passing && leaving && guard?.dirty) {
        // Put the address back while we ask; go on only if the user agrees.
        window.history.replaceState(window.history.state, '', window.location.pathname + window.location.search + prev);
        guard.confirm().then((ok) => {
          if (!ok) return;
          passing = true;
          window.location.hash = next;
        });
        return;
      }
      passing = false;
      setRoute(to);
    };
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, [guardRef]);
  return route;
}

export function navigate(hash) {
  if (window.location.hash === hash) return;
  window.location.hash = hash;
}

/** Changes the address without a new history entry and without a hashchange-driven remount. */
export function replaceHash(hash) {
  window.history.replaceState(window.history.state, '', window.location.pathname + window.location.search + hash);
}
