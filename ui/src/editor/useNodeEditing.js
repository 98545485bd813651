// Changing the graph in place: node params from the form, removing a node, connecting two nodes.
// Each records an undo step first; the keystrokes of one field make one step (its key names the field).
import { useCallback } from 'react';
import { useReactFlow } from '@xyflow/react';
import { SPLIT_TYPE, connectionToEdge, renameVariantEdges, variantKeys } from '../flowDoc.js';

/** The params whose values differ between two param objects. */
export function changedFields(before, after) {
  const keys = new Set([...Object.keys(before || {}), ...Object.keys(after || {})]);
  return [...keys].filter((k) => JSON.stringify(before?.[k]) !== JSON.stringify(after?.[k])).sort();
}

export function useNodeEditing({ nodes, setNodes, setEdges, setProblems, recordStep }) {
  const rf = useReactFlow();

  const onConnect = useCallback(
    (conn) => {
      const e = connectionToEdge(rf.getNodes(), rf.getEdges(), conn);
      if (!e) return;
      recordStep();
      setEdges((es) => [...es, e]);
    },
    [rf, setEdges, recordStep],
  );
  const isValidConnection = useCallback((conn) => Boolean(connectionToEdge(rf.getNodes(), rf.getEdges(), conn)), [rf]);

  const updateParams = useCallback(
    (id, params) => {
      const fields = changedFields(nodes.find((n) => n.id === id)?.data.params, params);
      if (!fields.length) return;
      recordStep(`params:${id}:${fields.join(',')}`);
      const before = nodes.find((n) => n.id === id);
      if (before?.data.type === SPLIT_TYPE) {
        // a renamed variant takes its edges along
        const keys = variantKeys({ data: { params } });
        setEdges((es) => renameVariantEdges(es, id, variantKeys(before), keys));
      }
      setNodes((ns) =>
        ns.map((n) => {
          if (n.id !== id) return n;
          if (JSON.stringify(n.data.params) === JSON.stringify(params)) return n;
          return { ...n, data: { ...n.data, params } };
        }),
      );
      // A field the user edited loses its server error; the next save checks it again.
      setProblems((pr) => {
        const entry = pr.nodes[id];
        if (!entry) return pr;
        const old = nodes.find((n) => n.id === id)?.data.params || {};
        const fields = { ...entry.fields };
        let changed = false;
        for (const k of Object.keys(fields)) {
          if (JSON.stringify(old[k]) !== JSON.stringify(params[k])) {
            delete fields[k];
            changed = true;
          }
        }
        return changed ? { ...pr, nodes: { ...pr.nodes, [id]: { ...entry, fields } } } : pr;
      });
    },
    [nodes, setNodes, setEdges, setProblems, recordStep],
  );

  const removeNode = (id) => {
    recordStep();
    setNodes((ns) => ns.filter((n) => n.id !== id));
    setEdges((es) => es.filter((e) => e.source !== id && e.target !== id));
  };

  return { onConnect, isValidConnection, updateParams, removeNode };
}
