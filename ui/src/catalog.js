// The node catalog and template variables from the server, shared by the editor's parts.
import { createContext, useContext } from 'react';

export const CatalogContext = createContext({ nodes: [], byType: {}, variables: [] });

export function useCatalog() {
  return useContext(CatalogContext);
}

export const KIND_ORDER = ['event', 'condition', 'action', 'flow'];

/** Node types grouped by kind, each group in the server's order. */
export function groupByKind(nodes) {
  const groups = Object.fromEntries(KIND_ORDER.map((k) => [k, []]));
  for (const n of nodes) (groups[n.kind] || (groups[n.kind] = [])).push(n);
  return groups;
}
