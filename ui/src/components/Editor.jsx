// The scenario editor: palette, React Flow canvas, node form / test / run-history panel, top bar.
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import {
  Background,
  Controls,
  MarkerType,
  MiniMap,
  ReactFlow,
  ReactFlowProvider,
  useEdgesState,
  useNodesState,
  useReactFlow,
} from '@xyflow/react';
import { ApiError, api, downloadJson, errorText, exportFileName } from '../api.js';
import { useCatalog } from '../catalog.js';
import {
  actionPart,
  applyPreset,
  connectionToEdge,
  docToFlow,
  edgeId,
  flowToDoc,
  freshId,
  kindOf,
  maskSecrets,
  missingSecretsByNode,
  newFlowDoc,
  triggerPart,
} from '../flowDoc.js';
import { pick, useI18n } from '../i18n.js';
import { mapProblem } from '../problems.js';
import { flowHash, navigate, replaceHash } from '../router.js';
import { defaultParams, withDefaults } from '../validator.js';
import { Banner, ConfirmDialog, PromptDialog, Toggle } from './common.jsx';
import { CanvasContext, nodeTypes } from './FlowNodes.jsx';
import { Connections } from './Connections.jsx';
import { NodeForm } from './NodeForm.jsx';
import { DND_MIME, Palette } from './Palette.jsx';
import { RunsPanel } from './RunsPanel.jsx';
import { TestPanel } from './TestPanel.jsx';

const NO_PROBLEMS = { banner: [], name: [], nodes: {}, edges: {} };
const NODE_W = 220;
const NODE_H = 80;

export function Editor(props) {
  return (
    <ReactFlowProvider>
      <EditorInner {...props} />
    </ReactFlowProvider>
  );
}

function withoutGraph(doc) {
  const { nodes: _n, edges: _e, stats: _s, ...rest } = doc || {};
  return rest;
}

function EditorInner({ routeId, onToast, leaveGuard }) {
  const { t, lang } = useI18n();
  const catalog = useCatalog();
  const rf = useReactFlow();
  const canvasRef = useRef(null);
  const [flowId, setFlowId] = useState(routeId === 'new' ? null : routeId);
  const [base, setBase] = useState(null);
  const [nodes, setNodes, onNodesChange] = useNodesState([]);
  const [edges, setEdges, onEdgesChange] = useEdgesState([]);
  const [saved, setSaved] = useState(null);
  const [loadError, setLoadError] = useState(null);
  const [problems, setProblems] = useState(NO_PROBLEMS);
  const [problemTitle, setProblemTitle] = useState(null);
  const [tab, setTab] = useState('params');
  const [steps, setSteps] = useState({});
  const [presets, setPresets] = useState([]);
  const [dialog, setDialog] = useState(null);
  const [saving, setSaving] = useState(false);
  const [presetError, setPresetError] = useState(null);
  const [missingSecrets, setMissingSecrets] = useState({});

  const doc = useMemo(() => (base ? flowToDoc(base, nodes, edges) : null), [base, nodes, edges]);
  const docText = useMemo(() => (doc ? JSON.stringify(doc) : null), [doc]);
  const dirty = saved !== null && docText !== saved;
  const selected = nodes.find((n) => n.selected) || null;
  const nodeTypeById = useMemo(() => Object.fromEntries(nodes.map((n) => [n.id, n.data.type])), [nodes]);
  const hasEvent = nodes.some((n) => kindOf(n.data.type) === 'event');

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

  // Load the flow (or start a new one) and the presets.
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
    api
      .presets()
      .then((p) => !cancelled && setPresets(p))
      .catch(() => {});
    return () => {
      cancelled = true;
    };
  }, [routeId]); // eslint-disable-line react-hooks/exhaustive-deps

  // Unsaved changes: ask before leaving.
  const confirmLeave = useCallback(
    () =>
      new Promise((resolve) => {
        if (!dirty) {
          resolve(true);
          return;
        }
        setDialog({
          type: 'confirm',
          title: t('editor.unsavedTitle'),
          text: t('editor.unsavedText'),
          confirmLabel: t('editor.leave'),
          cancelLabel: t('editor.stay'),
          danger: true,
          onConfirm: () => {
            setDialog(null);
            resolve(true);
          },
          onCancel: () => {
            setDialog(null);
            resolve(false);
          },
        });
      }),
    [dirty, t],
  );
  useEffect(() => {
    leaveGuard.current = { dirty, confirm: confirmLeave };
    return () => {
      leaveGuard.current = null;
    };
  }, [dirty, confirmLeave, leaveGuard]);
  useEffect(() => {
    if (!dirty) return undefined;
    const onBeforeUnload = (e) => {
      e.preventDefault();
      e.returnValue = '';
    };
    window.addEventListener('beforeunload', onBeforeUnload);
    return () => window.removeEventListener('beforeunload', onBeforeUnload);
  }, [dirty]);

  const cancel = async () => {
    if (!(await confirmLeave())) return;
    leaveGuard.current = { dirty: false, confirm: confirmLeave };
    navigate('#/');
  };

  const confirm = (opts) =>
    new Promise((resolve) => {
      setDialog({
        type: 'confirm',
        ...opts,
        onConfirm: () => {
          setDialog(null);
          resolve(true);
        },
        onCancel: () => {
          setDialog(null);
          resolve(false);
        },
      });
    });

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

  /** Where a node added without a drop point goes: under the selected node, or mid-screen. */
  const placeFor = (anchor, existing) => {
    let pos;
    if (anchor) pos = { x: anchor.position.x, y: anchor.position.y + 140 };
    else {
      const rect = canvasRef.current?.getBoundingClientRect();
      pos = rect
        ? rf.screenToFlowPosition({ x: rect.left + rect.width / 2 - NODE_W / 2, y: rect.top + rect.height / 3 })
        : { x: 0, y: 0 };
    }
    const busy = (p) => existing.some((n) => Math.abs(n.position.x - p.x) < NODE_W - 20 && Math.abs(n.position.y - p.y) < NODE_H);
    for (let i = 0; i < 20 && busy(pos); i += 1) pos = { x: pos.x + NODE_W + 40, y: pos.y };
    return pos;
  };

  /** Pans so that a node added without the mouse is in view. */
  const reveal = (node) => {
    const rect = canvasRef.current?.getBoundingClientRect();
    if (!rect) return;
    const { x, y, zoom } = rf.getViewport();
    const sx = node.position.x * zoom + x;
    const sy = node.position.y * zoom + y;
    if (sx >= 0 && sy >= 0 && sx + NODE_W * zoom <= rect.width && sy + NODE_H * zoom <= rect.height - 20) return;
    // Fit the whole diagram (not just the new node) so the rest of it stays in view too.
    setTimeout(() => rf.fitView({ padding: 0.15, maxZoom: Math.max(1, zoom), duration: 150 }), 60);
  };

  const addNode = async (type, position) => {
    const def = catalog.byType[type];
    const kind = kindOf(type);
    const id = freshId(type, nodes.map((n) => n.id));
    const anchor = !position && kind !== 'event' ? nodes.find((n) => n.selected) : null;
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
        const ok = await confirm({
          title: t('editor.replaceEventTitle'),
          text: t('editor.replaceEventText', { name: pick(catalog.byType[old.data.type]?.title, lang) || old.data.type }),
          confirmLabel: t('editor.replace'),
        });
        if (!ok) return;
        if (!position) node.position = { ...old.position };
        setNodes((ns) => [...ns.filter((n) => n.id !== old.id).map((n) => ({ ...n, selected: false })), node]);
        setEdges((es) =>
          es
            .filter((e) => e.target !== old.id)
            .map((e) => (e.source === old.id ? { ...e, source: id, id: edgeId(id, e.target, e.data?.branch), sourceHandle: undefined } : e)),
        );
        return;
      }
    }
    setNodes((ns) => [...ns.map((n) => (n.selected ? { ...n, selected: false } : n)), node]);
    if (!position) reveal(node);
    if (anchor) {
      setEdges((es) => {
        const e = connectionToEdge([...nodes, node], es, { source: anchor.id, target: id, sourceHandle: 'true' });
        return e ? [...es, e] : es;
      });
    }
    setTab('params');
  };

  const addPreset = async (presetId, position) => {
    const preset = presets.find((p) => String(p.id) === String(presetId));
    if (!preset) return;
    const presetHasEvent = (preset.nodes || []).some((n) => kindOf(n.type) === 'event');
    const old = nodes.find((n) => kindOf(n.data.type) === 'event');
    if (presetHasEvent && old) {
      const ok = await confirm({
        title: t('editor.replaceEventTitle'),
        text: t('editor.replaceEventText', { name: pick(catalog.byType[old.data.type]?.title, lang) || old.data.type }),
        confirmLabel: t('editor.replace'),
      });
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
    if (!at) at = placeFor(presetHasEvent ? null : nodes.find((n) => n.selected), nodes);
    const res = applyPreset(nodes, edges, preset, at);
    const added = new Set(res.added);
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
    [nodes, setNodes],
  );

  const removeNode = (id) => {
    setNodes((ns) => ns.filter((n) => n.id !== id));
    setEdges((es) => es.filter((e) => e.source !== id && e.target !== id));
  };

  const showProblem = (problem, sentDoc) => {
    setProblems(mapProblem(problem, sentDoc));
    setProblemTitle(problem.title || null);
  };

  const save = async () => {
    if (!doc || saving) return;
    const sent = doc;
    setSaving(true);
    try {
      let res;
      if (flowId) res = await api.saveFlow(flowId, sent);
      else {
        const { id: _drop, ...body } = sent;
        res = await api.createFlow(body);
      }
      applyLoaded(res || sent, selected ? [selected.id] : []);
      setProblems(NO_PROBLEMS);
      setProblemTitle(null);
      setSteps({});
      if (!flowId && res?.id) {
        setFlowId(res.id);
        replaceHash(flowHash(res.id));
      }
      onToast('editor.saved');
    } catch (err) {
      if (err instanceof ApiError && err.status !== 401) showProblem(err.problem, sent);
    } finally {
      setSaving(false);
    }
  };

  const doExport = async () => {
    try {
      const data = flowId && !dirty ? await api.exportFlow(flowId) : maskSecrets(doc, catalog.byType);
      downloadJson(exportFileName(base?.name), data);
    } catch (err) {
      setProblems({ ...NO_PROBLEMS, banner: [{ path: '', message: errorText(err, t) }] });
    }
  };

  const savePreset = async (name) => {
    const kind = dialog.kind;
    const part = kind === 'trigger' ? triggerPart(nodes, edges) : selected && actionPart(selected);
    if (!part) {
      setPresetError(t('editor.noEvent'));
      return;
    }
    try {
      await api.createPreset({ name, kind, nodes: part.nodes, edges: part.edges });
      setDialog(null);
      setPresetError(null);
      onToast('editor.presetSaved', { name });
      setPresets(await api.presets());
    } catch (err) {
      const list = err?.problem?.errors;
      setPresetError(Array.isArray(list) && list.length ? list.map((x) => x.message).join('; ') : errorText(err, t));
    }
  };

  const deletePreset = async (preset) => {
    const ok = await confirm({
      title: t('palette.deletePresetTitle'),
      text: t('palette.deletePresetText', { name: preset.name }),
      confirmLabel: t('common.delete'),
      danger: true,
    });
    if (!ok) return;
    try {
      await api.deletePreset(preset.id);
      setPresets((ps) => ps.filter((p) => p.id !== preset.id));
    } catch (err) {
      setProblems({ ...NO_PROBLEMS, banner: [{ path: '', message: errorText(err, t) }] });
    }
  };

  const displayEdges = useMemo(
    () =>
      edges.map((e) => {
        const srcKind = kindOf(nodeTypeById[e.source]);
        const branch = srcKind === 'condition' ? (e.data?.branch === 'false' || e.sourceHandle === 'false' ? 'false' : 'true') : null;
        const errs = problems.edges[e.id];
        const classes = [];
        if (branch === 'false') classes.push('edge-false');
        if (errs) classes.push('edge-error');
        return {
          ...e,
          label: errs ? `⚠ ${errs.join('; ')}` : branch ? t(`node.${branch}`) : undefined,
          className: classes.join(' ') || undefined,
          markerEnd: { type: MarkerType.ArrowClosed, width: 16, height: 16 },
          ariaLabel: `${e.source} → ${e.target}${branch ? ` (${t(`node.${branch}`)})` : ''}`,
        };
      }),
    [edges, nodeTypeById, problems.edges, t],
  );

  const canvasCtx = useMemo(() => ({ nodeProblems: problems.nodes, steps }), [problems.nodes, steps]);

  if (loadError) {
    return (
      <div className="page">
        <Banner>{loadError.status === 404 ? t('editor.notFound') : errorText(loadError, t)}</Banner>
        <button type="button" className="btn" onClick={() => navigate('#/')}>
          {t('editor.back')}
        </button>
      </div>
    );
  }
  if (!base) return <div className="page loading" role="status">{t('app.loading')}</div>;

  const nodeErrorCount =
    Object.values(problems.nodes).reduce((a, p) => a + p.messages.length + countFieldErrors(p.fields), 0) +
    Object.values(problems.edges).reduce((a, l) => a + l.length, 0) +
    problems.banner.length;
  const selectedDef = selected ? catalog.byType[selected.data.type] : null;
  const selectedKind = selected ? kindOf(selected.data.type) : null;
  const selectedProblems = selected ? problems.nodes[selected.id] : null;

  return (
    <div className="editor" data-testid="editor">
      <div className="editor-bar">
        <div className="editor-title">
          {!flowId && <span className="editor-caption">{t('editor.createTitle')}</span>}
          <h1 className="visually-hidden">{base.name || t('editor.createTitle')}</h1>
          <input
            className={`input name-input${problems.name.length ? ' input-invalid' : ''}`}
            value={base.name ?? ''}
            onChange={(e) => setBase((b) => ({ ...b, name: e.target.value }))}
            aria-label={t('editor.name')}
            style={{ width: `${Math.round(Math.min(Math.max((base.name || '').length, 10), 36) * 1.25) + 2}ch` }}
            data-testid="flow-name"
            maxLength={200}
          />
          {dirty && (
            <span className="dirty-mark" data-testid="dirty-mark">
              {t('editor.unsavedMark')}
            </span>
          )}
        </div>
        <div className="editor-actions">
          <Toggle
            checked={base.enabled}
            onChange={(v) => setBase((b) => ({ ...b, enabled: v }))}
            label={t('editor.enable')}
            showLabel
            testId="flow-enabled"
          />
          <button type="button" className="btn" onClick={doExport} data-testid="editor-export">
            {t('editor.export')}
          </button>
          <button type="button" className={`btn${tab === 'test' ? ' btn-active' : ''}`} onClick={() => setTab('test')} data-testid="editor-test">
            {t('editor.test')}
          </button>
          <button type="button" className={`btn${tab === 'history' ? ' btn-active' : ''}`} onClick={() => setTab('history')} data-testid="editor-history">
            {t('editor.history')}
          </button>
          <button type="button" className="btn" onClick={cancel} data-testid="editor-cancel">
            {t('editor.cancel')}
          </button>
          <button type="button" className="btn btn-primary" onClick={save} disabled={saving} data-testid="flow-save">
            {saving ? t('editor.saving') : t('editor.save')}
          </button>
        </div>
      </div>
      {nodeErrorCount > 0 && (
        <Banner onClose={() => { setProblems(NO_PROBLEMS); setProblemTitle(null); }} testId="editor-errors">
          <strong>{problemTitle || t('editor.saveErrors', { count: nodeErrorCount })}</strong>
          <ul className="problem-list">
            {problems.banner.map((b, i) => (
              <li key={`b${i}`} data-path={b.path}>
                {b.path && b.path !== '/' ? <code>{b.path}</code> : null} {b.message}
              </li>
            ))}
            {Object.entries(problems.nodes).map(([id, p]) => (
              <li key={`n${id}`}>
                <button type="button" className="link-btn" onClick={() => selectNode(id)} data-testid={`problem-node-${id}`}>
                  {pick(catalog.byType[nodeTypeById[id]]?.title, lang) || id}
                </button>
                : {[...p.messages, ...fieldMessages(p.fields, selectedDefFor(catalog, nodeTypeById[id]), lang)].join('; ')}
              </li>
            ))}
            {Object.entries(problems.edges).map(([id, msgs]) => (
              <li key={`e${id}`}>
                {t('editor.edgeErrors')}: {msgs.join('; ')}
              </li>
            ))}
          </ul>
        </Banner>
      )}
      {Object.keys(missingSecrets).length > 0 && (
        <Banner kind="info" testId="missing-secrets">
          {t('editor.missingSecrets')}{' '}
          {Object.keys(missingSecrets).map((id, i) => (
            <span key={id}>
              {i > 0 && ', '}
              <button type="button" className="link-btn" onClick={() => selectNode(id)}>
                {pick(catalog.byType[nodeTypeById[id]]?.title, lang) || id}
              </button>
            </span>
          ))}
        </Banner>
      )}
      <div className="editor-body">
        <Palette presets={presets} onAdd={(type) => addNode(type)} onAddPreset={(id) => addPreset(id)} onDeletePreset={deletePreset} />
        <div className="canvas-column">
          <div className="canvas" ref={canvasRef} onDragOver={onDragOver} onDrop={onDrop} aria-label={t('editor.canvas')} role="region">
            <CanvasContext.Provider value={canvasCtx}>
              <ReactFlow
                nodes={nodes}
                edges={displayEdges}
                onNodesChange={onNodesChange}
                onEdgesChange={onEdgesChange}
                onConnect={onConnect}
                isValidConnection={isValidConnection}
                nodeTypes={nodeTypes}
                deleteKeyCode={['Delete', 'Backspace']}
                minZoom={0.2}
                maxZoom={2}
                defaultViewport={{ x: 40, y: 40, zoom: 1 }}
                onNodeClick={() => setTab('params')}
              >
                <Background gap={20} size={1} />
                <Controls showInteractive={false} />
                <MiniMap position="top-right" pannable zoomable ariaLabel={t('editor.minimap')} style={{ width: 120, height: 80 }} nodeClassName={(n) => `minimap-${n.type}`} />
              </ReactFlow>
            </CanvasContext.Provider>
            {nodes.length === 0 && (
              <div className="canvas-empty" data-testid="canvas-empty">
                {t('editor.emptyCanvas')}
              </div>
            )}
          </div>
          <div className="canvas-footer">
            <button
              type="button"
              className="btn btn-sm btn-link"
              disabled={!hasEvent}
              title={hasEvent ? undefined : t('editor.noEvent')}
              onClick={() => {
                setPresetError(null);
                setDialog({ type: 'preset', kind: 'trigger' });
              }}
              data-testid="save-trigger-preset"
            >
              {t('editor.saveTrigger')}
            </button>
            <button
              type="button"
              className="btn btn-sm btn-link"
              disabled={selectedKind !== 'action'}
              onClick={() => {
                setPresetError(null);
                setDialog({ type: 'preset', kind: 'action' });
              }}
              data-testid="save-action-preset"
            >
              {t('editor.saveAction')}
            </button>
          </div>
        </div>
        <aside className="side-panel" aria-label={t(`panel.${tab}`)} data-testid="side-panel">
          <div className="panel-tabs" role="tablist">
            {['params', 'test', 'history'].map((k) => (
              <button
                key={k}
                type="button"
                role="tab"
                aria-selected={tab === k}
                className={`panel-tab${tab === k ? ' active' : ''}`}
                onClick={() => setTab(k)}
                data-testid={`panel-tab-${k}`}
              >
                {t(`panel.${k}`)}
              </button>
            ))}
          </div>
          <div className="panel-body" role="tabpanel">
            {tab === 'params' &&
              (selected ? (
                <div className="node-panel" data-testid="panel-node" data-node-id={selected.id}>
                  <div className="node-panel-head">
                    <span className={`dot dot-${selectedKind}`} aria-hidden="true" />
                    <span className="muted small">{t(`kind.${selectedKind}`)}</span>
                  </div>
                  <h2 className="panel-title">{selectedDef ? pick(selectedDef.title, lang) : selected.data.type}</h2>
                  {selectedDef && pick(selectedDef.description, lang) && <p className="muted small">{pick(selectedDef.description, lang)}</p>}
                  <p className="muted small">{t('panel.nodeId', { id: selected.id })}</p>
                  {selectedProblems?.messages.length > 0 && (
                    <ul className="error-list" role="alert" data-testid="panel-node-errors">
                      {selectedProblems.messages.map((m, i) => (
                        <li key={i}>{m}</li>
                      ))}
                    </ul>
                  )}
                  {!selectedDef && <Banner>{t('node.unknownType')}: {selected.data.type}</Banner>}
                  <NodeForm
                    key={`${selected.id}:${lang}`}
                    node={selected}
                    def={selectedDef}
                    fieldErrors={selectedProblems?.fields}
                    missingSecrets={missingSecrets[selected.id]}
                    onChange={(params) => updateParams(selected.id, params)}
                  />
                  <Connections
                    key={`conn:${selected.id}`}
                    node={selected}
                    nodes={nodes}
                    edges={edges}
                    onAdd={(edge) => setEdges((es) => [...es, edge])}
                    onRemove={(id) => setEdges((es) => es.filter((e) => e.id !== id))}
                  />
                  <div className="node-panel-foot">
                    {selectedKind === 'action' && (
                      <button
                        type="button"
                        className="btn btn-sm btn-link"
                        onClick={() => {
                          setPresetError(null);
                          setDialog({ type: 'preset', kind: 'action' });
                        }}
                      >
                        {t('editor.saveAction')}
                      </button>
                    )}
                    {(selectedKind === 'event' || selectedKind === 'condition') && (
                      <button
                        type="button"
                        className="btn btn-sm btn-link"
                        disabled={!hasEvent}
                        onClick={() => {
                          setPresetError(null);
                          setDialog({ type: 'preset', kind: 'trigger' });
                        }}
                      >
                        {t('editor.saveTrigger')}
                      </button>
                    )}
                    <button type="button" className="btn btn-sm btn-danger-text" onClick={() => removeNode(selected.id)} data-testid="panel-node-delete">
                      {t('editor.deleteNode')}
                    </button>
                  </div>
                </div>
              ) : (
                <div data-testid="panel-empty">
                  <p className="muted">{t('panel.selectNode')}</p>
                  <p className="muted small canvas-hint">{t('editor.keyboardHint')}</p>
                </div>
              ))}
            {tab === 'test' && (
              <TestPanel
                getDoc={() => doc}
                savedId={flowId && !dirty ? flowId : null}
                nodeTypes={nodeTypeById}
                onResult={(res) => setSteps(Object.fromEntries((res?.steps || []).map((s) => [s.node_id, s])))}
                onProblem={showProblem}
                onSelectNode={selectNode}
              />
            )}
            {tab === 'history' && <RunsPanel flowId={flowId} nodeTypes={nodeTypeById} onSelectNode={selectNode} onToast={onToast} />}
          </div>
        </aside>
      </div>
      {dialog?.type === 'confirm' && (
        <ConfirmDialog
          title={dialog.title}
          text={dialog.text}
          confirmLabel={dialog.confirmLabel}
          cancelLabel={dialog.cancelLabel}
          danger={dialog.danger}
          onConfirm={dialog.onConfirm}
          onCancel={dialog.onCancel}
        />
      )}
      {dialog?.type === 'preset' && (
        <PromptDialog
          title={dialog.kind === 'trigger' ? t('editor.saveTrigger') : t('editor.saveAction')}
          placeholder={t('editor.presetName')}
          onSubmit={savePreset}
          onCancel={() => setDialog(null)}
          error={presetError}
          testId={`preset-dialog-${dialog.kind}`}
        />
      )}
    </div>
  );
}

function countFieldErrors(fields) {
  let n = 0;
  for (const [k, v] of Object.entries(fields || {})) {
    if (k === '__errors') n += v.length;
    else if (v && typeof v === 'object') n += countFieldErrors(v);
  }
  return n;
}

function selectedDefFor(catalog, type) {
  return catalog.byType[type] || null;
}

/** "Field title: message" for each field error of a node, for the banner. */
function fieldMessages(fields, def, lang) {
  const out = [];
  const walk = (obj, path) => {
    for (const [k, v] of Object.entries(obj || {})) {
      if (k === '__errors') {
        const prop = def?.schema?.properties?.[path[0]];
        const label = prop ? (lang === 'en' ? prop['x-title-en'] || prop.title : prop.title || prop['x-title-en']) || path.join('.') : path.join('.');
        for (const m of v) out.push(`${label}: ${m}`);
      } else if (v && typeof v === 'object') walk(v, [...path, k]);
    }
  };
  walk(fields, []);
  return out;
}
