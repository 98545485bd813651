// The run history's query (GET /api/v1/runs filters, issue #19) and its CSV download.
import { ApiError, request } from './api.js';
import { getToken } from './auth.js';

export const RUN_STATUSES = ['succeeded', 'failed', 'waiting', 'running', 'queued', 'suppressed', 'cancelled', 'not_triggered'];
export const EMPTY_FILTERS = { flow_id: '', status: '', order_id: '', client_id: '', recipient: '', since: '', until: '' };

/** A local date ("2026-12-01") as the UTC instant of that day's start here: what the API takes. */
function dayStart(day, plusDays = 0) {
  const [y, m, d] = day.split('-').map(Number);
  return new Date(y, m - 1, d + plusDays).toISOString();
}

/** The query string of `flowId` (else the scenario chosen in `filters`) with `filters`; `until` is
 * inclusive of its whole day. */
export function historyQuery(flowId, filters = EMPTY_FILTERS) {
  const q = new URLSearchParams();
  if (flowId || filters.flow_id) q.set('flow_id', flowId || filters.flow_id);
  for (const key of ['status', 'order_id', 'client_id', 'recipient']) {
    const value = (filters[key] || '').trim();
    if (value) q.set(key, value);
  }
  if (filters.since) q.set('since', dayStart(filters.since));
  if (filters.until) q.set('until', dayStart(filters.until, 1));
  return q.toString();
}

/** The filters given in an address's query ("#/runs?client_id=c1&status=failed"), the rest empty. */
export function filtersFrom(search) {
  const q = new URLSearchParams(search || '');
  return Object.fromEntries(Object.keys(EMPTY_FILTERS).map((key) => [key, q.get(key) || '']));
}

export function loadRuns(query, cursor, limit = 20) {
  const page = `limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
  return request('GET', `/api/v1/runs?${query ? `${query}&` : ''}${page}`);
}

/** Downloads the filtered history as runs.csv (the server streams every matching run). */
export async function downloadRunsCsv(query) {
  const headers = { Accept: 'text/csv, application/problem+json' };
  const token = getToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  const res = await fetch(`/api/v1/runs?${query ? `${query}&` : ''}format=csv`, { headers });
  if (!res.ok) {
    let problem = null;
    try {
      problem = await res.json();
    } catch {
      problem = null;
    }
    throw new ApiError(res.status, problem);
  }
  const url = URL.createObjectURL(await res.blob());
  const a = document.createElement('a');
  a.href = url;
  a.download = 'runs.csv';
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
