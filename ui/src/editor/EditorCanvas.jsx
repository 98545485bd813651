// The canvas column: React Flow with the node cards, edges labelled «да»/«нет» or with their server
// error, and the footer with «Сохранить событие и условия как шаблон» / «Сохранить действие как шаблон».
import { useMemo } from 'react';
import { Background, Controls, MarkerType, MiniMap, ReactFlow } from '@xyflow/react';
import { branchKeys, isBranching } from '../flowDoc.js';
import { useI18n } from '../i18n.js';
import { CanvasContext, nodeTypes } from '../components/FlowNodes.jsx';

export function EditorCanvas(props) {
  const { canvasRef, nodes, edges, nodeTypeById, problems, steps, onNodesChange, onEdgesChange, onConnect, isValidConnection } = props;
  const { onDragOver, onDrop, onNodeClick, hasEvent, selectedKind, openPresetDialog, onDragStart } = props;
  const { t } = useI18n();

  const displayEdges = useMemo(
    () =>
      edges.map((e) => {
        const srcType = nodeTypeById[e.source];
        const branch = isBranching(srcType) ? (e.data?.branch === 'false' || e.sourceHandle === 'false' ? 'false' : 'true') : null;
        const said = branch ? t(branchKeys(srcType)[branch]) : '';
        const errs = problems.edges[e.id];
        const classes = [];
        if (branch === 'false') classes.push('edge-false');
        if (errs) classes.push('edge-error');
        return {
          ...e,
          label: errs ? `⚠ ${errs.join('; ')}` : branch ? said : undefined,
          className: classes.join(' ') || undefined,
          markerEnd: { type: MarkerType.ArrowClosed, width: 16, height: 16 },
          ariaLabel: `${e.source} → ${e.target}${branch ? ` (${said})` : ''}`,
        };
      }),
    [edges, nodeTypeById, problems.edges, t],
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
