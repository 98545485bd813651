// Adding nodes and templates from the palette: by click or keyboard (placed under the anchor) or by
// dropping onto the canvas. Every way connects the new node after the selected node, or after the end of
// the chain (autoConnect.js). A second event replaces the first, after asking. Each add is one undo step.
import { useReactFlow } from '@xyflow/react';
import { useCatalog } from '../catalog.js';
import { edgeId, freshId, kindOf } from '../flowDoc.js';
import { pick, useI18n } from '../i18n.js';
import { applyPreset } from '../presetParts.js';
import { defaultParams, withDefaults } from '../validator.js';
import { DND_MIME } from '../components/Palette.jsx';
import { anchorFor, autoEdge } from './autoConnect.js';
import { NODE_W } from './constants.js';
import { usePlacement } from './usePlacement.js';

export function useAddNodes({ canvasRef, nodes, edges, setNodes, setEdges, presets, confirm, setTab, recordStep }) {
  const { t, lang } = useI18n();
  const catalog = useCatalog();
  const rf = useReactFlow();
  const { placeFor, reveal } = usePlacement(canvasRef);

  const confirmReplaceEvent = (old) =>
    confirm({
      title: t('editor.replaceEventTitle'),
      text: t('editor.replaceEventText', { name: pick(catalog.byType[old.data.type]?.title, lang) || old.data.type }),
      confirmLabel: t('editor.replace'),
    });

  const addNode = async (type, position) => {
    const def = catalog.byType[type];
    const kind = kindOf(type);
    const id = freshId(type, nodes.map((n) => n.id));
    const anchor = kind !== 'event' ? anchorFor(nodes, edges) : null;
    const node = {
      id,
      type: kind,
      position: position || placeFor(anchor, nodes),
      data: { type, version: def?.version ?? 1, params: defaultParams(def?.schema) },
      selected: true,
    };
    if (kind === 'event') {
      const old = nodes.find((n) => kindOf(n.data.type) === 'event');
      if (old) {
        const ok = await confirmReplaceEvent(old);
        if (!ok) return;
        if (!position) node.position = { ...old.position };
        recordStep();
        setNodes((ns) => [...ns.filter((n) => n.id !== old.id).map((n) => ({ ...n, selected: false })), node]);
        setEdges((es) =>
          es
            .filter((e) => e.target !== old.id)
            .map((e) => (e.source === old.id ? { ...e, source: id, id: edgeId(id, e.target, e.data?.branch), sourceHandle: undefined } : e)),
        );
        return;
      }
    }
    recordStep();
    setNodes((ns) => [...ns.map((n) => (n.selected ? { ...n, selected: false } : n)), node]);
    if (!position) reveal(node);
    const edge = autoEdge([...nodes, node], edges, anchor, id);
    if (edge) setEdges((es) => [...es, edge]);
    setTab('params');
  };

  const addPreset = async (presetId, position) => {
    const preset = presets.find((p) => String(p.id) === String(presetId));
    if (!preset) return;
    const presetHasEvent = (preset.nodes || []).some((n) => kindOf(n.type) === 'event');
    const old = nodes.find((n) => kindOf(n.data.type) === 'event');
    if (presetHasEvent && old) {
      const ok = await confirmReplaceEvent(old);
      if (!ok) return;
    }
    let at = position;
    if (!at && presetHasEvent && old) {
      // Left of everything, level with the old event, so nothing lands on top of the kept nodes.
      const xs = (preset.nodes || []).map((n) => n.position?.x ?? 0);
      const width = (xs.length ? Math.max(...xs) - Math.min(...xs) : 0) + NODE_W;
      const left = Math.min(...nodes.map((n) => n.position.x));
      at = { x: left - width - 80, y: old.position.y };
    }
    const anchor = presetHasEvent ? null : anchorFor(nodes, edges);
    if (!at) at = placeFor(anchor, nodes);
    const res = applyPreset(nodes, edges, preset, at);
    const added = new Set(res.added);
    // with the schema's defaults, as the form would fill them: opening the node is not a change (nor an undo step)
    res.nodes = res.nodes.map((n) => (added.has(n.id) ? { ...n, data: { ...n.data, params: withDefaults(catalog.byType[n.data.type]?.schema, n.data.params) } } : n));
    // an action template hangs from the anchor by its first node (the one nothing inside it leads to)
    const entry = res.added.find((id) => !res.edges.some((e) => e.target === id && added.has(e.source)));
    const edge = entry ? autoEdge(res.nodes, res.edges, anchor, entry) : null;
    if (edge) res.edges.push(edge);
    recordStep();
    setNodes(res.nodes.map((n) => ({ ...n, selected: added.has(n.id) && n.id === res.added[res.added.length - 1] })));
    setEdges(res.edges);
    if (!position) {
      const last = res.nodes.find((n) => n.id === res.added[res.added.length - 1]);
      if (last) reveal(last);
    }
    setTab('params');
  };

  const onDragOver = (e) => {
    if (Array.from(e.dataTransfer.types || []).includes(DND_MIME)) {
      e.preventDefault();
      e.dataTransfer.dropEffect = 'copy';
    }
  };
  const onDrop = (e) => {
    const raw = e.dataTransfer.getData(DND_MIME);
    if (!raw) return;
    e.preventDefault();
    let payload;
    try {
      payload = JSON.parse(raw);
    } catch {
      return;
    }
    const p = rf.screenToFlowPosition({ x: e.clientX, y: e.clientY });
    const position = { x: p.x - NODE_W / 2, y: p.y - 20 };
    if (payload.type) addNode(payload.type, position);
    else if (payload.preset) addPreset(payload.preset, position);
  };

  return { addNode, addPreset, onDragOver, onDrop };
}
