// The login token: taken once from "/?token=…", kept in sessionStorage, removed from the address bar.
export const TOKEN_KEY = 'automation-token';

/** Moves a ?token= from `location` into `storage`; returns the URL to show instead (or null if unchanged). */
export function captureToken(location, storage) {
  const url = new URL(location.href);
  const token = url.searchParams.get('token');
  if (token === null) return null;
  if (token.trim()) storage.setItem(TOKEN_KEY, token.trim());
  url.searchParams.delete('token');
  return url.pathname + (url.search === '?' ? '' : url.search) + url.hash;
}

export function getToken(storage = sessionStorage) {
  return storage.getItem(TOKEN_KEY) || '';
}

export function setToken(token, storage = sessionStorage) {
  if (token) storage.setItem(TOKEN_KEY, token);
  else storage.removeItem(TOKEN_KEY);
}
