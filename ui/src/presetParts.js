// Templates (presets, SPEC §10): the parts of a canvas saved as a template, and a template pasted
// into the canvas with fresh ids.
import { docToFlow, edgeId, flowToDoc, freshId, kindOf } from './flowDoc.js';

/** The trigger part of a flow: the event, the conditions reachable from it through conditions only, and their edges. */
export function triggerPart(nodes, edges) {
  const event = nodes.find((n) => kindOf(n.data.type) === 'event');
  if (!event) return null;
  const keep = new Set([event.id]);
  const stack = [event.id];
  while (stack.length) {
    const id = stack.pop();
    for (const e of edges) {
      if (e.source !== id || keep.has(e.target)) continue;
      const t = nodes.find((n) => n.id === e.target);
      if (t && kindOf(t.data.type) === 'condition') {
        keep.add(t.id);
        stack.push(t.id);
      }
    }
  }
  const part = { nodes: nodes.filter((n) => keep.has(n.id)), edges: edges.filter((e) => keep.has(e.source) && keep.has(e.target)) };
  return flowToDoc({}, part.nodes, part.edges);
}

/** One action node as an action preset's nodes/edges. */
export function actionPart(node) {
  return flowToDoc({}, [node], []);
}

/**
 * Copies a preset's nodes into the canvas with fresh ids.
 * Returns { nodes, edges } to use as the new canvas, plus `added` (the new node ids) and
 * `replacedEvent` (the id of the removed event, if any). A trigger preset replaces the
 * canvas's event; what hung off the old event is re-attached to the preset's single exit.
 */
export function applyPreset(nodes, edges, preset, at = { x: 0, y: 0 }) {
  const taken = new Set(nodes.map((n) => n.id));
  const idMap = {};
  for (const n of preset.nodes || []) {
    const id = freshId(n.type, taken);
    taken.add(id);
    idMap[n.id] = id;
  }
  const presetFlow = docToFlow({ nodes: preset.nodes || [], edges: preset.edges || [] });
  const xs = presetFlow.nodes.map((n) => n.position.x);
  const ys = presetFlow.nodes.map((n) => n.position.y);
  const minX = xs.length ? Math.min(...xs) : 0;
  const minY = ys.length ? Math.min(...ys) : 0;
  const newNodes = presetFlow.nodes.map((n) => ({
    ...n,
    id: idMap[n.id],
    position: { x: n.position.x - minX + at.x, y: n.position.y - minY + at.y },
    // `preset` tells the server where the node came from: its secrets (placeholders here) are the template's
    data: { ...n.data, params: structuredClone(n.data.params ?? {}), extra: { ...(n.data.extra || {}), ...(preset.id ? { preset: { id: preset.id, node: n.id } } : {}) } },
    selected: false,
  }));
  const newEdges = presetFlow.edges.map((e) => ({
    ...e,
    id: edgeId(idMap[e.source], idMap[e.target], e.data?.branch),
    source: idMap[e.source],
    target: idMap[e.target],
  }));

  let keptNodes = nodes;
  let keptEdges = edges;
  let replacedEvent = null;
  const presetEvent = newNodes.find((n) => kindOf(n.data.type) === 'event');
  const oldEvent = nodes.find((n) => kindOf(n.data.type) === 'event');
  if (presetEvent && oldEvent) {
    replacedEvent = oldEvent.id;
    const exits = newNodes.filter((n) => !newEdges.some((e) => e.source === n.id));
    const exit = exits.length === 1 ? exits[0] : presetEvent;
    const reattached = edges
      .filter((e) => e.source === oldEvent.id)
      .map((e) => {
        const isCond = kindOf(exit.data.type) === 'condition';
        const edge = { id: edgeId(exit.id, e.target, isCond ? 'true' : undefined), source: exit.id, target: e.target, data: isCond ? { branch: 'true' } : {} };
        if (isCond) edge.sourceHandle = 'true';
        return edge;
      });
    keptNodes = nodes.filter((n) => n.id !== oldEvent.id);
    keptEdges = edges.filter((e) => e.source !== oldEvent.id && e.target !== oldEvent.id).concat(reattached);
  }
  return {
    nodes: [...keptNodes, ...newNodes],
    edges: [...keptEdges, ...newEdges],
    added: newNodes.map((n) => n.id),
    replacedEvent,
  };
}
