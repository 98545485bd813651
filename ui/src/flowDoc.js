// Conversion between the flow document (SPEC §6, "automation-flow/1") and React Flow's
// nodes/edges, plus the small graph helpers the editor needs (fresh ids, connections, layout).
// Templates (presets) are cut from and pasted into the canvas by presetParts.js.

export const FLOW_FORMAT = 'automation-flow/1';
export const SECRET_PLACEHOLDER = '********';

/** The React Flow node type (component) for a node type id such as "condition.visit_city". */
export function kindOf(type) {
  const kind = String(type || '').split('.')[0];
  return ['event', 'condition', 'action', 'flow'].includes(kind) ? kind : 'action';
}

/** Whether a node's outgoing edges take a branch ("true" / "false"): conditions, and the wait for
 * an event (came / timed out). */
export function isBranching(type) {
  return kindOf(type) === 'condition' || type === 'flow.wait_event';
}

/** The i18n keys of a branching node's two outputs: «да» / «нет», «дождались» / «не дождались». */
export function branchKeys(type) {
  return type === 'flow.wait_event' ? { true: 'node.came', false: 'node.timedOut' } : { true: 'node.true', false: 'node.false' };
}

const NODE_KEYS = ['id', 'type', 'version', 'params', 'position'];

/** A new, empty flow document. */
export function newFlowDoc(name) {
  return { format: FLOW_FORMAT, name, enabled: false, nodes: [], edges: [] };
}

/** Edge id for React Flow; stable for the same from/to/branch. */
export function edgeId(from, to, branch) {
  return `e:${from}->${to}${branch ? `:${branch}` : ''}`;
}

/** Places nodes that have no position in layers by their distance from the roots. */
export function autoLayout(nodes, edges) {
  const depth = {};
  const incoming = {};
  for (const e of edges) (incoming[e.to] ||= []).push(e.from);
  const byId = Object.fromEntries(nodes.map((n) => [n.id, n]));
  const visiting = new Set();
  const depthOf = (id) => {
    if (depth[id] !== undefined) return depth[id];
    if (visiting.has(id)) return 0; // a cycle: the server will name it, we just must not hang
    visiting.add(id);
    const parents = (incoming[id] || []).filter((p) => byId[p]);
    depth[id] = parents.length ? Math.max(...parents.map(depthOf)) + 1 : 0;
    visiting.delete(id);
    return depth[id];
  };
  const perLayer = {};
  return nodes.map((n) => {
    if (n.position && Number.isFinite(n.position.x) && Number.isFinite(n.position.y)) return n;
    const d = depthOf(n.id);
    const i = (perLayer[d] = (perLayer[d] ?? -1) + 1);
    return { ...n, position: { x: i * 280, y: d * 150 } };
  });
}

/** Flow document -> { nodes, edges } for React Flow. Unknown node fields are kept in data.extra. */
export function docToFlow(doc) {
  const docNodes = autoLayout(Array.isArray(doc?.nodes) ? doc.nodes : [], Array.isArray(doc?.edges) ? doc.edges : []);
  const kinds = {};
  const nodes = docNodes.map((n) => {
    const extra = {};
    for (const [k, v] of Object.entries(n)) if (!NODE_KEYS.includes(k)) extra[k] = v;
    kinds[n.id] = isBranching(n.type) ? 'condition' : kindOf(n.type); // edges: a branching node's as a condition's
    const data = { type: n.type, params: n.params ?? {} };
    if (n.version !== undefined) data.version = n.version;
    if (Object.keys(extra).length) data.extra = extra;
    return { id: String(n.id), type: kindOf(n.type), position: { ...n.position }, data };
  });
  const edges = (Array.isArray(doc?.edges) ? doc.edges : []).map((e) => {
    const data = {};
    if (e.branch !== undefined) data.branch = e.branch;
    const extra = {};
    for (const [k, v] of Object.entries(e)) if (!['from', 'to', 'branch'].includes(k)) extra[k] = v;
    if (Object.keys(extra).length) data.extra = extra;
    const edge = { id: edgeId(e.from, e.to, e.branch), source: String(e.from), target: String(e.to), data };
    if (kinds[e.from] === 'condition') edge.sourceHandle = e.branch === 'false' || e.branch === false ? 'false' : 'true';
    return edge;
  });
  return { nodes, edges };
}

/**
 * React Flow nodes/edges -> flow document, keeping the other top-level fields of `base`.
 * Node order follows `nodes`, so a problem path /nodes/<i> points at nodes[i].
 */
export function flowToDoc(base, nodes, edges) {
  const doc = { ...base };
  doc.format = base?.format || FLOW_FORMAT;
  const kinds = {};
  doc.nodes = nodes.map((n) => {
    kinds[n.id] = isBranching(n.data.type) ? 'condition' : kindOf(n.data.type);
    const out = { id: n.id, type: n.data.type };
    if (n.data.version !== undefined) out.version = n.data.version;
    out.params = n.data.params ?? {};
    out.position = { x: Math.round(n.position.x), y: Math.round(n.position.y) };
    return { ...out, ...(n.data.extra || {}) };
  });
  doc.edges = edges.map((e) => {
    const out = { from: e.source, to: e.target };
    const branch = e.data?.branch;
    if (branch !== undefined) out.branch = branch;
    else if (kinds[e.source] === 'condition' && e.sourceHandle === 'false') out.branch = 'false';
    return { ...out, ...(e.data?.extra || {}) };
  });
  // Read-only fields the server adds to what it returns; they are not part of the document.
  for (const k of ['stats', 'needs_secrets', 'created_at', 'updated_at', 'event_type']) delete doc[k];
  return doc;
}

/** needs_secrets (JSON pointers into `doc`) -> { nodeId: [param names] }. */
export function missingSecretsByNode(doc) {
  const out = {};
  for (const p of Array.isArray(doc?.needs_secrets) ? doc.needs_secrets : []) {
    const m = /^\/nodes\/(\d+)\/params\/([^/]+)$/.exec(String(p));
    const node = m && doc.nodes?.[Number(m[1])];
    if (node) (out[node.id] ||= []).push(m[2].replace(/~1/g, '/').replace(/~0/g, '~'));
  }
  return out;
}

/** A node id not in `taken`, readable: "slack", "slack_2", ... */
export function freshId(type, taken) {
  const base = String(type || 'node').split('.').pop().replace(/[^a-zA-Z0-9_-]/g, '_') || 'node';
  const has = taken instanceof Set ? (x) => taken.has(x) : (x) => taken.includes(x);
  if (!has(base)) return base;
  for (let i = 2; ; i += 1) if (!has(`${base}_${i}`)) return `${base}_${i}`;
}

/** Would connecting source -> target close a cycle? */
export function createsCycle(edges, source, target) {
  if (source === target) return true;
  const out = {};
  for (const e of edges) (out[e.source] ||= []).push(e.target);
  const stack = [target];
  const seen = new Set();
  while (stack.length) {
    const id = stack.pop();
    if (id === source) return true;
    if (seen.has(id)) continue;
    seen.add(id);
    stack.push(...(out[id] || []));
  }
  return false;
}

export const SPLIT_TYPE = 'flow.split';

/** A split's variant keys, in order (its outgoing edges' branches). */
export function variantKeys(node) {
  const variants = node?.data?.params?.variants;
  return Array.isArray(variants) ? variants.map((v) => v?.key).filter((k) => typeof k === 'string' && k) : [];
}

/** The variant a new edge from split `src` takes: the first without an edge yet (else the first). */
export function nextVariant(src, edges) {
  const keys = variantKeys(src);
  const used = new Set(edges.filter((e) => e.source === src.id).map((e) => e.data?.branch));
  return keys.find((k) => !used.has(k)) ?? keys[0];
}

/** The edges of split `id` after its variant keys changed from `before` to `after` (by position). */
export function renameVariantEdges(edges, id, before, after) {
  const renamed = {};
  before.forEach((key, i) => {
    if (after[i] !== undefined && after[i] !== key && !after.includes(key)) renamed[key] = after[i];
  });
  if (!Object.keys(renamed).length) return edges;
  return edges.map((e) => {
    const to = e.source === id ? renamed[e.data?.branch] : undefined;
    return to === undefined ? e : { ...e, id: edgeId(e.source, e.target, to), data: { ...e.data, branch: to } };
  });
}

/** The edge React Flow should add for a connection, or null when the connection is not allowed. */
export function connectionToEdge(nodes, edges, conn) {
  const { source, target } = conn;
  const src = nodes.find((n) => n.id === source);
  const dst = nodes.find((n) => n.id === target);
  if (!src || !dst) return null;
  if (kindOf(dst.data.type) === 'event') return null;
  if (createsCycle(edges, source, target)) return null;
  if (src.data.type === SPLIT_TYPE) {
    const branch = conn.branch ?? nextVariant(src, edges);
    if (edges.some((e) => e.source === source && e.target === target && e.data?.branch === branch)) return null;
    return { id: edgeId(source, target, branch), source, target, data: branch ? { branch } : {} };
  }
  const isCondition = isBranching(src.data.type);
  const branch = isCondition ? (conn.sourceHandle === 'false' ? 'false' : 'true') : undefined;
  if (edges.some((e) => e.source === source && e.target === target && (e.data?.branch ?? (isCondition ? e.sourceHandle : undefined)) === branch)) {
    return null;
  }
  const edge = { id: edgeId(source, target, branch), source, target, data: branch ? { branch } : {} };
  if (isCondition) edge.sourceHandle = branch;
  return edge;
}

/** Replaces secret values by the placeholder, for exports of unsaved documents. */
export function maskSecrets(doc, catalog) {
  const out = structuredClone(doc);
  for (const n of out.nodes || []) {
    const props = catalog?.[n.type]?.schema?.properties || {};
    for (const [k, p] of Object.entries(props)) {
      if (p && p['x-secret'] && n.params && n.params[k] !== undefined && n.params[k] !== '') n.params[k] = SECRET_PLACEHOLDER;
    }
  }
  return out;
}
