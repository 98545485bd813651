// The one auto-connect rule for every way of adding a node (palette click or Enter, drop from the
// palette, a template): the new node hangs from the selected node, or, with nothing selected, from
// the end of the chain; only when that connection is valid (flowDoc.connectionToEdge).
import { connectionToEdge, kindOf } from '../flowDoc.js';

/** The last node of the chain: the leaf furthest from the event (from the roots without one); the later one on a tie. */
export function chainEnd(nodes, edges) {
  if (!nodes.length) return null;
  const ids = new Set(nodes.map((n) => n.id));
  const out = {};
  const hasIn = new Set();
  for (const e of edges) {
    if (!ids.has(e.source) || !ids.has(e.target)) continue;
    (out[e.source] ||= []).push(e.target);
    hasIn.add(e.target);
  }
  const event = nodes.find((n) => kindOf(n.data.type) === 'event');
  const roots = event ? [event.id] : nodes.filter((n) => !hasIn.has(n.id)).map((n) => n.id);
  const depth = {};
  const queue = roots.map((id) => [id, 0]);
  while (queue.length) {
    const [id, d] = queue.shift();
    if (depth[id] !== undefined && depth[id] >= d) continue;
    if (d > nodes.length) continue; // a cycle: the server names it, we must not loop
    depth[id] = d;
    for (const next of out[id] || []) queue.push([next, d + 1]);
  }
  let best = null;
  nodes.forEach((n, i) => {
    if (depth[n.id] === undefined || (out[n.id] || []).length) return;
    if (!best || depth[n.id] >= best.depth) best = { node: n, depth: depth[n.id], i };
  });
  return best ? best.node : null;
}

/** The node a new node connects from: the (last) selected one, else the end of the chain. */
export function anchorFor(nodes, edges) {
  const selected = nodes.filter((n) => n.selected);
  return selected.length ? selected[selected.length - 1] : chainEnd(nodes, edges);
}

/** The edge anchor → target (the «да» branch of a condition), or null when it is not a valid connection. */
export function autoEdge(nodes, edges, anchor, targetId) {
  if (!anchor || anchor.id === targetId) return null;
  return connectionToEdge(nodes, edges, { source: anchor.id, target: targetId, sourceHandle: 'true' });
}
