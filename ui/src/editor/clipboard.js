// Copy and paste of canvas nodes (issue #18), as pure functions. A pasted node gets a fresh id and
// says where it came from, so that its secrets (the placeholder here) keep their stored values on save:
// `copy_of` {flow, node} for a node of a saved scenario, or the template's `preset` it already carries.
import { edgeId, freshId, kindOf } from '../flowDoc.js';

export const PASTE_OFFSET = 40;

/** The selected nodes (never the event: a scenario has one) and the edges between them, or null. */
export function copyPart(nodes, edges, flowId) {
  const chosen = nodes.filter((n) => n.selected && kindOf(n.data.type) !== 'event');
  if (!chosen.length) return null;
  const ids = new Set(chosen.map((n) => n.id));
  return {
    flowId: flowId || null,
    nodes: structuredClone(chosen.map(({ id, type, position, data }) => ({ id, type, position, data }))),
    edges: structuredClone(edges.filter((e) => ids.has(e.source) && ids.has(e.target)).map(({ id, source, target, sourceHandle, data }) => ({ id, source, target, sourceHandle, data }))),
  };
}

function withSource(extra, flowId, nodeId) {
  const { preset, copy_of: copyOf, ...rest } = extra || {};
  if (preset) return { ...rest, preset };
  if (copyOf) return { ...rest, copy_of: copyOf };
  return flowId ? { ...rest, copy_of: { flow: flowId, node: nodeId } } : rest;
}

/** The canvas with `clip` pasted `times` × PASTE_OFFSET lower right; the pasted nodes are the selection. */
export function pasteClip(nodes, edges, clip, times = 1) {
  const taken = new Set(nodes.map((n) => n.id));
  const idMap = {};
  for (const n of clip.nodes) {
    idMap[n.id] = freshId(n.data.type, taken);
    taken.add(idMap[n.id]);
  }
  const shift = PASTE_OFFSET * times;
  const pasted = clip.nodes.map((n) => {
    const extra = withSource(n.data.extra, clip.flowId, n.id);
    const data = { ...structuredClone(n.data), extra };
    if (!Object.keys(extra).length) delete data.extra;
    return { id: idMap[n.id], type: n.type, position: { x: n.position.x + shift, y: n.position.y + shift }, data, selected: true };
  });
  const pastedEdges = clip.edges.map((e) => {
    const edge = { ...structuredClone(e), id: edgeId(idMap[e.source], idMap[e.target], e.data?.branch), source: idMap[e.source], target: idMap[e.target] };
    if (edge.sourceHandle === undefined) delete edge.sourceHandle;
    return edge;
  });
  return {
    nodes: [...nodes.map((n) => (n.selected ? { ...n, selected: false } : n)), ...pasted],
    edges: [...edges.map((e) => (e.selected ? { ...e, selected: false } : e)), ...pastedEdges],
    added: pasted.map((n) => n.id),
  };
}
