// The node catalog and template variables from the server, shared by the editor's parts.
import { createContext, useContext } from 'react';

export const CatalogContext = createContext({ nodes: [], byType: {}, variables: [] });

export function useCatalog() {
  return useContext(CatalogContext);
}

export const KIND_ORDER = ['event', 'condition', 'action', 'flow'];

// The order of SPEC §3 (Roistat's own order); types not listed follow in the server's order.
const TYPE_ORDER = [
  'event.visit_created', 'event.order_created', 'event.order_status_changed',
  'event.order_days_since_created', 'event.order_days_since_paid', 'event.custom',
  'condition.visit_city', 'condition.visit_country', 'condition.visit_ip', 'condition.visit_referrer',
  'condition.visit_domain', 'condition.visit_landing_page', 'condition.visit_marker', 'condition.visit_utm',
  'condition.visit_roistat_param', 'condition.client_orders_count', 'condition.order_status',
  'condition.order_created_age', 'condition.order_paid_age', 'condition.order_price', 'condition.event_data',
  'action.slack', 'action.webhook', 'action.sms', 'action.email', 'action.crm_task', 'action.telegram',
  'flow.delay',
];

/** Node types grouped by kind, in the order of SPEC §3. */
export function groupByKind(nodes) {
  const groups = Object.fromEntries(KIND_ORDER.map((k) => [k, []]));
  const rank = (t) => {
    const i = TYPE_ORDER.indexOf(t);
    return i < 0 ? TYPE_ORDER.length : i;
  };
  const sorted = nodes.map((n, i) => [n, i]).sort((a, b) => rank(a[0].type) - rank(b[0].type) || a[1] - b[1]);
  for (const [n] of sorted) (groups[n.kind] || (groups[n.kind] = [])).push(n);
  return groups;
}
