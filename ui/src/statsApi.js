// The HTTP API of scenario analytics and of a client's card (SPEC §11, issue #19).
import { request } from './api.js';

const enc = encodeURIComponent;

export const statsApi = {
  /** `query`: stats.js statsQuery() — from, to, interval, window_days. */
  flowStats: (id, query) => request('GET', `/api/v1/flows/${enc(id)}/stats?${query}`),
  overview: (query) => request('GET', `/api/v1/stats/overview?${query}`),
  client: (id, limit = 50) => request('GET', `/api/v1/clients/${enc(id)}?limit=${limit}`),
};
