// The edited flow: loading it (or starting a new one), its React Flow nodes/edges, the document they
// make, and whether it differs from what was last loaded or saved.
import { useCallback, useEffect, useMemo, useState } from 'react';
import { useEdgesState, useNodesState, useReactFlow } from '@xyflow/react';
import { api } from '../api.js';
import { useCatalog } from '../catalog.js';
import { docToFlow, flowToDoc, missingSecretsByNode, newFlowDoc } from '../flowDoc.js';
import { useI18n } from '../i18n.js';
import { withDefaults } from '../validator.js';

function withoutGraph(doc) {
  const { nodes: _n, edges: _e, stats: _s, ...rest } = doc || {};
  return rest;
}

export function useFlowDocument(routeId) {
  const { t } = useI18n();
  const catalog = useCatalog();
  const rf = useReactFlow();
  const [flowId, setFlowId] = useState(routeId === 'new' ? null : routeId);
  const [base, setBase] = useState(null);
  const [nodes, setNodes, onNodesChange] = useNodesState([]);
  const [edges, setEdges, onEdgesChange] = useEdgesState([]);
  const [saved, setSaved] = useState(null);
  const [loadError, setLoadError] = useState(null);
  const [missingSecrets, setMissingSecrets] = useState({});

  const doc = useMemo(() => (base ? flowToDoc(base, nodes, edges) : null), [base, nodes, edges]);
  const docText = useMemo(() => (doc ? JSON.stringify(doc) : null), [doc]);
  const dirty = saved !== null && docText !== saved;

  const fit = () => setTimeout(() => rf.fitView({ padding: 0.25, maxZoom: 1, duration: 0 }), 30);

  const applyLoaded = useCallback(
    (loaded, keepSelection = []) => {
      const b = withoutGraph(loaded);
      const flow = docToFlow(loaded);
      const ns = flow.nodes.map((n) => {
        // The form adds the schema's defaults when it opens: start from them, so that selecting a node
        // is not an unsaved change.
        const def = catalog.byType[n.data.type];
        const node = def ? { ...n, data: { ...n.data, params: withDefaults(def.schema, n.data.params) } } : n;
        return keepSelection.includes(n.id) ? { ...node, selected: true } : node;
      });
      setBase(b);
      setMissingSecrets(missingSecretsByNode(loaded));
      setNodes(ns);
      setEdges(flow.edges);
      setSaved(JSON.stringify(flowToDoc(b, ns, flow.edges)));
    },
    [catalog, setNodes, setEdges],
  );

  // Load the flow (or start a new one).
  useEffect(() => {
    let cancelled = false;
    if (routeId === 'new') {
      applyLoaded(newFlowDoc(t('editor.defaultName')));
    } else {
      api
        .flow(routeId)
        .then((loaded) => {
          if (cancelled) return;
          applyLoaded(loaded);
          fit();
        })
        .catch((err) => !cancelled && setLoadError(err));
    }
    return () => {
      cancelled = true;
    };
  }, [routeId]); // eslint-disable-line react-hooks/exhaustive-deps

  return {
    flowId,
    setFlowId,
    base,
    setBase,
    nodes,
    setNodes,
    onNodesChange,
    edges,
    setEdges,
    onEdgesChange,
    loadError,
    missingSecrets,
    doc,
    dirty,
    applyLoaded,
  };
}
