// A client's timeline (GET /api/v1/clients/{id}: orders, visits, custom events, status changes and
// runs, each list newest first) as one list, newest first, each item with its kind and time.

const KINDS = { orders: 'order', visits: 'visit', events: 'event', status_changes: 'status', runs: 'run' };

const when = (item) => item?.at || item?.changed_at || item?.created_at || null;

/** [{kind, at, item}] of every list of `timeline`, newest first; a list the UI does not know yet
 * keeps its key as the kind, so it is shown rather than dropped. */
export function timelineItems(timeline) {
  const out = [];
  for (const [key, list] of Object.entries(timeline || {})) {
    if (!Array.isArray(list)) continue;
    for (const item of list) out.push({ kind: KINDS[key] || key, at: when(item), item });
  }
  const time = (x) => (x.at ? Date.parse(x.at) || 0 : 0);
  return out.sort((a, b) => time(b) - time(a));
}

/** The visit's source in a few words: "yandex / cpc / spring", else its landing page or domain. */
export function visitSource(visit) {
  const utm = [visit?.utm_source, visit?.utm_medium, visit?.utm_campaign].filter(Boolean);
  if (utm.length) return utm.join(' / ');
  return visit?.landing_page || visit?.domain || visit?.referrer || '';
}
