// The HTTP API of the scenario list and of a scenario's versions (SPEC §11).
import { request } from './api.js';

const enc = encodeURIComponent;

export const flowsApi = {
  importFlows: (body, onConflict = 'fail') =>
    request('POST', `/api/v1/flows/import?on_conflict=${enc(onConflict)}`, body).then((d) => d?.flows || []),
  duplicate: (id) => request('POST', `/api/v1/flows/${enc(id)}/duplicate`),
  bulk: (ids, enabled) => request('POST', '/api/v1/flows/bulk', { ids, enabled }).then((d) => d?.flows || []),
  versions: (id) => request('GET', `/api/v1/flows/${enc(id)}/versions?limit=200`),
  version: (id, n) => request('GET', `/api/v1/flows/${enc(id)}/versions/${enc(n)}`),
  diff: (id, from, to) => request('GET', `/api/v1/flows/${enc(id)}/diff?from=${enc(from)}&to=${enc(to)}`),
  restore: (id, n) => request('POST', `/api/v1/flows/${enc(id)}/versions/${enc(n)}/restore`),
};
