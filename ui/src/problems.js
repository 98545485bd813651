// RFC 9457 problem details -> where to show each error: on a node (and its form field),
// on an edge, or in the banner. Paths are JSON pointers into the document that was sent.
import { edgeId } from './flowDoc.js';

/** "/nodes/2/params/a~1b" -> ["nodes", "2", "params", "a/b"] */
export function parsePointer(pointer) {
  if (pointer === undefined || pointer === null || pointer === '' || pointer === '/') return [];
  const s = String(pointer);
  // Accept "nodes/2/params" without the leading slash too; some validators print it that way.
  return (s.startsWith('/') ? s.slice(1) : s).split('/').map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function addFieldError(schema, segments, message) {
  let cur = schema;
  for (const seg of segments) cur = cur[seg] ||= {};
  (cur.__errors ||= []).push(message);
}

/**
 * @param problem  the problem-details body (or an Error carrying one in `.problem`)
 * @param doc      the document the request carried (for index -> id)
 * @returns {{banner: {path: string, message: string}[], name: string[],
 *            nodes: Object<string, {messages: string[], fields: object}>, edges: Object<string, string[]>}}
 */
export function mapProblem(problem, doc) {
  const out = { banner: [], name: [], nodes: {}, edges: {} };
  if (!problem) return out;
  const errors = Array.isArray(problem.errors) ? problem.errors : [];
  if (!errors.length) {
    out.banner.push({ path: '', message: problem.detail || problem.title || String(problem.status || '') });
    return out;
  }
  const docNodes = Array.isArray(doc?.nodes) ? doc.nodes : [];
  const docEdges = Array.isArray(doc?.edges) ? doc.edges : [];
  for (const err of errors) {
    const message = err?.message ?? String(err);
    const path = err?.path ?? '';
    let seg = parsePointer(path);
    // The dry run of an unsaved document (POST /flows/test) reports paths under /flow.
    if (seg[0] === 'flow' && (seg[1] === 'nodes' || seg[1] === 'edges' || seg[1] === 'name')) seg = seg.slice(1);
    if (seg[0] === 'nodes' && seg.length >= 2 && /^\d+$/.test(seg[1]) && docNodes[Number(seg[1])]) {
      const node = docNodes[Number(seg[1])];
      const entry = (out.nodes[node.id] ||= { messages: [], fields: {} });
      if (seg[2] === 'params' && seg.length > 3) addFieldError(entry.fields, seg.slice(3), message);
      else entry.messages.push(message);
    } else if (seg[0] === 'edges' && seg.length >= 2 && /^\d+$/.test(seg[1]) && docEdges[Number(seg[1])]) {
      const e = docEdges[Number(seg[1])];
      (out.edges[edgeId(e.from, e.to, e.branch)] ||= []).push(message);
    } else if (seg[0] === 'name') {
      out.name.push(message);
      out.banner.push({ path, message });
    } else {
      out.banner.push({ path, message });
    }
  }
  return out;
}

/** Does this mapped problem have anything at all? */
export function hasProblems(mapped) {
  return Boolean(
    mapped && (mapped.banner.length || mapped.name.length || Object.keys(mapped.nodes).length || Object.keys(mapped.edges).length),
  );
}
