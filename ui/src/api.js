// The HTTP API client: bearer token, JSON in and out, problem details as ApiError.
import { getToken } from './auth.js';

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.name = 'ApiError';
    this.status = status;
    this.problem = problem || { status, title: `HTTP ${status}` };
  }
}

let onUnauthorized = () => {};
let language = 'ru';

/** The UI's language: the server answers problems (title, detail, errors) in it. */
export function setRequestLanguage(lang) {
  language = lang;
}

/** Called with no arguments whenever the server answers 401. */
export function setUnauthorizedHandler(fn) {
  onUnauthorized = fn;
}

export async function request(method, path, body) {
  // the client header: the server records a save from here as the UI's (flow versions)
  const headers = {
    Accept: 'application/json, application/problem+json',
    'Accept-Language': language,
    'X-Automation-Client': 'ui',
  };
  const token = getToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  const form = typeof FormData !== 'undefined' && body instanceof FormData; // multipart: the browser sets its type
  if (body !== undefined && !form) headers['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(path, { method, headers, body: body === undefined || form ? body : JSON.stringify(body) });
  } catch (err) {
    throw new ApiError(0, { status: 0, title: 'network', detail: err?.message || String(err) });
  }
  if (res.status === 401) {
    onUnauthorized();
    throw new ApiError(401, await readJson(res));
  }
  if (res.status === 204) return null;
  const data = await readJson(res);
  if (!res.ok) throw new ApiError(res.status, data && typeof data === 'object' ? data : { status: res.status, title: `HTTP ${res.status}` });
  return data;
}

async function readJson(res) {
  const text = await res.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return { status: res.status, title: `HTTP ${res.status}`, detail: text.slice(0, 300) };
  }
}

const enc = encodeURIComponent;

export const api = {
  nodes: () => request('GET', '/api/v1/nodes').then((d) => d?.nodes || []),
  variables: () => request('GET', '/api/v1/variables').then((d) => d?.variables || []),
  // sort: a key of plugin/engine/flow_lists.py SORTS, "-" in front for descending
  flows: (sort) => request('GET', `/api/v1/flows${sort ? `?sort=${enc(sort)}` : ''}`).then((d) => d?.flows || []),
  flow: (id) => request('GET', `/api/v1/flows/${enc(id)}`),
  createFlow: (doc) => request('POST', '/api/v1/flows', doc),
  saveFlow: (id, doc) => request('PUT', `/api/v1/flows/${enc(id)}`, doc),
  patchFlow: (id, patch) => request('PATCH', `/api/v1/flows/${enc(id)}`, patch),
  deleteFlow: (id) => request('DELETE', `/api/v1/flows/${enc(id)}`),
  exportFlow: (id) => request('GET', `/api/v1/flows/${enc(id)}/export`),
  importFlows: (body) => request('POST', '/api/v1/flows/import', body).then((d) => d?.flows || []),
  // body: {context} or a stored record ({order_id} / {visit_id} / {custom_event_id})
  testDoc: (flow, body) => request('POST', '/api/v1/flows/test', { flow, ...body }),
  testFlow: (id, body) => request('POST', `/api/v1/flows/${enc(id)}/test`, body),
  sendTest: (id, nodeId, body) => request('POST', `/api/v1/flows/${enc(id)}/nodes/${enc(nodeId)}/send-test`, body),
  records: (kind, q, limit = 8) =>
    request('GET', `/api/v1/${{ order: 'orders', visit: 'visits', event: 'events' }[kind]}?limit=${limit}${q ? `&q=${enc(q)}` : ''}`),
  presets: () => request('GET', '/api/v1/presets').then((d) => d?.presets || []),
  createPreset: (preset) => request('POST', '/api/v1/presets', preset),
  deletePreset: (id) => request('DELETE', `/api/v1/presets/${enc(id)}`),
  runs: (flowId, cursor, limit = 20) =>
    request('GET', `/api/v1/runs?flow_id=${enc(flowId)}&limit=${limit}${cursor ? `&cursor=${enc(cursor)}` : ''}`),
  retryRun: (id) => request('POST', `/api/v1/runs/${enc(id)}/retry`),
  hooks: () => request('GET', '/api/v1/hooks').then((d) => d?.hooks || []),
  createHook: (name) => request('POST', '/api/v1/hooks', { name }),
  deleteHook: (id) => request('DELETE', `/api/v1/hooks/${enc(id)}`),
  connections: () => request('GET', '/api/v1/connections').then((d) => d?.connections || []),
  connectionTypes: () => request('GET', '/api/v1/connections/types').then((d) => d?.types || []),
  createConnection: (body) => request('POST', '/api/v1/connections', body),
  saveConnection: (id, body) => request('PUT', `/api/v1/connections/${enc(id)}`, body),
  deleteConnection: (id) => request('DELETE', `/api/v1/connections/${enc(id)}`),
  testConnection: (id) => request('POST', `/api/v1/connections/${enc(id)}/test`),
  suppressions: (q, cursor) =>
    request('GET', `/api/v1/suppressions?limit=50${q ? `&q=${enc(q)}` : ''}${cursor ? `&cursor=${enc(cursor)}` : ''}`),
  addSuppression: (entry) => request('POST', '/api/v1/suppressions', entry),
  deleteSuppression: (id) => request('DELETE', `/api/v1/suppressions/${enc(id)}`),
  importSuppressions: (file) => {
    const form = new FormData();
    form.append('file', file);
    return request('POST', '/api/v1/suppressions/import', form);
  },
  statuses: () => request('GET', '/api/v1/statuses'),
  tokens: () => request('GET', '/api/v1/tokens').then((d) => d?.tokens || []),
  createToken: (name, scope) => request('POST', '/api/v1/tokens', { name, scope }),
  revokeToken: (id) => request('DELETE', `/api/v1/tokens/${enc(id)}`),
};

/** Saves `data` as a pretty-printed JSON file download. */
export function downloadJson(filename, data) {
  const blob = new Blob([JSON.stringify(data, null, 2) + '\n'], { type: 'application/json' });
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/** A safe file name for a flow export: "<name>.json". */
export function exportFileName(name) {
  const base = String(name || 'flow').replace(/[\\/:*?"<>|\u0000-\u001f]+/g, '_').trim() || 'flow';
  return `${base}.json`;
}

/** The human text of an error for a banner. */
export function errorText(err, t) {
  if (err instanceof ApiError) {
    if (err.status === 0) return t('common.networkError', { message: err.problem.detail });
    const p = err.problem || {};
    return p.detail || p.title || t('common.requestFailed', { status: err.status });
  }
  return err?.message || String(err);
}
