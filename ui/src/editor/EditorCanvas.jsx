// The canvas column: React Flow with the node cards, edges labelled «да»/«нет» («дождались»/«не дождались»
// after a wait, a split's variant) or with their server error, and the footer with
// «Сохранить событие и условия как шаблон» / «Сохранить действие как шаблон».
import { useMemo } from 'react';
import { Background, Controls, MarkerType, MiniMap, ReactFlow } from '@xyflow/react';
import { SPLIT_TYPE, branchKeys, isBranching } from '../flowDoc.js';
import { shares } from '../components/VariantsField.jsx';
import { useI18n } from '../i18n.js';
import { CanvasContext, nodeTypes } from '../components/FlowNodes.jsx';

export function EditorCanvas(props) {
  const { canvasRef, nodes, edges, nodeTypeById, problems, steps, onNodesChange, onEdgesChange, onConnect, isValidConnection } = props;
  const { onDragOver, onDrop, onNodeClick, hasEvent, selectedKind, openPresetDialog, onDragStart } = props;
  const { t } = useI18n();

  // a split's edges are labelled with their variant and its share («A · 50 %»)
  const variantLabels = useMemo(() => {
    const out = {};
    for (const n of nodes) {
      if (n.data.type !== SPLIT_TYPE) continue;
      const variants = Array.isArray(n.data.params?.variants) ? n.data.params.variants : [];
      const share = shares(variants);
      out[n.id] = Object.fromEntries(variants.map((v, i) => [v?.key, `${v?.key} · ${share[i]}`]));
    }
    return out;
  }, [nodes]);

  const displayEdges = useMemo(
    () =>
      edges.map((e) => {
        const srcType = nodeTypeById[e.source];
        const branch = isBranching(srcType) ? (e.data?.branch === 'false' || e.sourceHandle === 'false' ? 'false' : 'true') : null;
        const variant = variantLabels[e.source] ? (variantLabels[e.source][e.data?.branch] ?? `${e.data?.branch ?? '?'}`) : null;
        const errs = problems.edges[e.id];
        const classes = [];
        if (branch === 'false') classes.push('edge-false');
        if (variant) classes.push('edge-variant');
        if (errs) classes.push('edge-error');
        const said = variant || (branch ? t(branchKeys(srcType)[branch]) : '');
        return {
          ...e,
          label: errs ? `⚠ ${errs.join('; ')}` : said || undefined,
          className: classes.join(' ') || undefined,
          markerEnd: { type: MarkerType.ArrowClosed, width: 16, height: 16 },
          ariaLabel: `${e.source} → ${e.target}${said ? ` (${said})` : ''}`,
        };
      }),
    [edges, nodeTypeById, problems.edges, t, variantLabels],
  );

  const canvasCtx = useMemo(() => ({ nodeProblems: problems.nodes, steps }), [problems.nodes, steps]);

  return (
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
            onNodeClick={onNodeClick}
            onNodeDragStart={onDragStart}
            onSelectionDragStart={onDragStart}
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
          onClick={() => openPresetDialog('trigger')}
          data-testid="save-trigger-preset"
        >
          {t('editor.saveTrigger')}
        </button>
        <button
          type="button"
          className="btn btn-sm btn-link"
          disabled={selectedKind !== 'action'}
          onClick={() => openPresetDialog('action')}
          data-testid="save-action-preset"
        >
          {t('editor.saveAction')}
        </button>
      </div>
    </div>
  );
}
