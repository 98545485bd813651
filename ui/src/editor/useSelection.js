// The selected node (React Flow's own `selected` flag) and the side panel's tab.
import { useCallback, useState } from 'react';
import { useReactFlow } from '@xyflow/react';
import { NODE_H, NODE_W } from './constants.js';

export function useSelection({ nodes, setNodes, setEdges }) {
  const rf = useReactFlow();
  const [tab, setTab] = useState('params');
  const selected = nodes.find((n) => n.selected) || null;

  /** Selects node `id` alone, centres it and shows its parameters. */
  const selectNode = useCallback(
    (id) => {
      setNodes((ns) => ns.map((n) => ({ ...n, selected: n.id === id })));
      setEdges((es) => es.map((e) => (e.selected ? { ...e, selected: false } : e)));
      const n = rf.getNode(id);
      if (n) rf.setCenter(n.position.x + NODE_W / 2, n.position.y + NODE_H / 2, { zoom: rf.getZoom(), duration: 200 });
      setTab('params');
    },
    [rf, setNodes, setEdges],
  );

  return { tab, setTab, selected, selectNode };
}
