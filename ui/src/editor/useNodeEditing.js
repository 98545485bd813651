// Changing the graph in place: node params from the form, removing a node, connecting two nodes.
import { useCallback } from 'react';
import { useReactFlow } from '@xyflow/react';
import { connectionToEdge } from '../flowDoc.js';

export function useNodeEditing({ nodes, setNodes, setEdges, setProblems }) {
  const rf = useReactFlow();

  const onConnect = useCallback(
    (conn) => {
      setEdges((es) => {
        const e = connectionToEdge(rf.getNodes(), es, conn);
        return e ? [...es, e] : es;
      });
    },
    [rf, setEdges],
  );
  const isValidConnection = useCallback((conn) => Boolean(connectionToEdge(rf.getNodes(), rf.getEdges(), conn)), [rf]);

  const updateParams = useCallback(
    (id, params) => {
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
    [nodes, setNodes, setProblems],
  );

  const removeNode = (id) => {
    setNodes((ns) => ns.filter((n) => n.id !== id));
    setEdges((es) => es.filter((e) => e.source !== id && e.target !== id));
  };

  return { onConnect, isValidConnection, updateParams, removeNode };
}
