// Hash routes, so the server only has to serve index.html at "/":
// "#/" the scenario list, "#/flows/new" a new scenario, "#/flows/<id>" the editor.
import { useEffect, useState } from 'react';

export function parseHash(hash) {
  const path = String(hash || '').replace(/^#/, '') || '/';
  const m = path.match(/^\/flows\/([^/?#]+)\/?$/);
  if (m) return { name: 'editor', id: decodeURIComponent(m[1]) };
  return { name: 'list' };
}

export function flowHash(id) {
  return `#/flows/${encodeURIComponent(id)}`;
}

export function useHashRoute() {
  const [route, setRoute] = useState(() => parseHash(window.location.hash));
  useEffect(() => {
    const onChange = () => setRoute(parseHash(window.location.hash));
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
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
