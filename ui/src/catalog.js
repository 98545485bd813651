// The node catalog and template variables from the server, shared by the editor's parts.
import { createContext, useContext } from 'react';

export const CatalogContext = createContext({ nodes: [], byType: {}, variables: [] });

export function useCatalog() {
  return useContext(CatalogContext);
}

// The palette's sections (SPEC §10): События, Условия, Действия, then Управление (flow control).
export const KIND_ORDER = ['event', 'condition', 'action', 'flow'];

/**
 * Node types grouped by kind. Within a kind the order is the catalog's: the server lists node types in
 * the order of SPEC §3 (plugin/registry.py, CATALOG_ORDER), and a type the UI has never heard of stays
 * where the server put it.
 */
export function groupByKind(nodes) {
  const groups = Object.fromEntries(KIND_ORDER.map((k) => [k, []]));
  for (const n of nodes) (groups[n.kind] || (groups[n.kind] = [])).push(n);
  return groups;
}
