// The scenario list's search, filters and sort, done in the page so the list answers as one types
// (the same rules as GET /api/v1/flows?q&status&event&tag&has_errors&sort, plugin/engine/flow_lists.py).
// The list is also asked of the server with its `sort`: a header click re-sorts at once here, and
// the server's answer, in the same order, follows.

export const EMPTY_FILTERS = { q: '', status: '', event: '', tag: '', hasErrors: false };

const fold = (s) => String(s ?? '').toLocaleLowerCase('ru');

const SORT_VALUE = {
  name: (f) => fold(f.name),
  status: (f) => (f.enabled ? 1 : 0),
  runs: (f) => f.stats?.triggered ?? 0,
  failed: (f) => f.stats?.failed ?? 0,
  created: (f) => f.created_at || '',
  updated: (f) => f.updated_at || '',
  event: (f) => f.event_type || '',
  // never-triggered ones first (by creation), as flow_lists.SORTS does
  last_triggered: (f) => `${f.stats?.last_triggered_at ? 1 : 0}|${f.stats?.last_triggered_at || f.created_at || ''}`,
};

export function filterFlows(flows, filters) {
  const q = fold(filters.q).trim();
  const tag = fold(filters.tag);
  return flows.filter(
    (f) =>
      (!q || fold(f.name).includes(q)) &&
      (!filters.status || (filters.status === 'enabled') === Boolean(f.enabled)) &&
      (!filters.event || f.event_type === filters.event) &&
      (!tag || (f.tags || []).some((x) => fold(x) === tag)) &&
      (!filters.hasErrors || (f.stats?.failed ?? 0) > 0),
  );
}

/** Sorted by `sort` ("name", "-runs", …; "" keeps the server's order: oldest first). */
export function sortFlows(flows, sort) {
  if (!sort) return flows;
  const desc = sort.startsWith('-');
  const value = SORT_VALUE[sort.replace(/^-/, '')];
  if (!value) return flows;
  const out = [...flows].sort((a, b) => {
    const x = value(a);
    const y = value(b);
    if (x < y) return desc ? 1 : -1;
    if (x > y) return desc ? -1 : 1;
    return fold(a.name) < fold(b.name) ? -1 : fold(a.name) > fold(b.name) ? 1 : 0;
  });
  return out;
}

/** The next sort when a column header is clicked: ascending, then descending, then ascending again. */
export function nextSort(current, column) {
  return current === column ? `-${column}` : column;
}

/** Every tag of the list, once, sorted. */
export function allTags(flows) {
  const seen = new Map();
  for (const f of flows) for (const tag of f.tags || []) if (!seen.has(fold(tag))) seen.set(fold(tag), tag);
  return [...seen.values()].sort((a, b) => a.localeCompare(b, 'ru'));
}

/** "a, b ,, c" → ["a", "b", "c"], each once. */
export function parseTags(text) {
  const out = [];
  for (const part of String(text || '').split(',')) {
    const tag = part.trim();
    if (tag && !out.some((x) => fold(x) === fold(tag))) out.push(tag);
  }
  return out;
}
