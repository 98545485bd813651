// The scenario editor: palette, React Flow canvas, node form / test / run-history panel, top bar.
// State and behaviour live in the use* hooks next to this file; the parts are plain components.
import { useMemo, useRef, useState } from 'react';
import { ReactFlowProvider } from '@xyflow/react';
import { errorText } from '../api.js';
import { kindOf } from '../flowDoc.js';
import { useI18n } from '../i18n.js';
import { navigate } from '../router.js';
import { Banner } from '../components/common.jsx';
import { Palette } from '../components/Palette.jsx';
import { EditorBar } from './EditorBar.jsx';
import { EditorCanvas } from './EditorCanvas.jsx';
import { EditorDialogs } from './EditorDialogs.jsx';
import { ProblemBanners } from './ProblemBanners.jsx';
import { SidePanel } from './SidePanel.jsx';
import { useAddNodes } from './useAddNodes.js';
import { useDialog } from './useDialog.js';
import { useFlowDocument } from './useFlowDocument.js';
import { useLeaveGuard } from './useLeaveGuard.js';
import { useNodeEditing } from './useNodeEditing.js';
import { usePresets } from './usePresets.js';
import { useProblems } from './useProblems.js';
import { useSave } from './useSave.js';
import { useSelection } from './useSelection.js';

export function Editor(props) {
  return (
    <ReactFlowProvider>
      <EditorInner {...props} />
    </ReactFlowProvider>
  );
}

function EditorInner({ routeId, onToast, leaveGuard }) {
  const { t } = useI18n();
  const canvasRef = useRef(null);
  const flow = useFlowDocument(routeId);
  const { base, setBase, nodes, setNodes, edges, setEdges, flowId, dirty, doc, missingSecrets } = flow;
  const { problems, setProblems, problemTitle, showProblem, clearProblems, showError } = useProblems();
  const { tab, setTab, selected, selectNode } = useSelection({ nodes, setNodes, setEdges });
  const [steps, setSteps] = useState({});
  const { dialog, setDialog, confirm } = useDialog();
  const presetState = usePresets({ routeId, nodes, edges, selected, dialog, setDialog, confirm, onToast, showError });
  const { presets, presetError, openPresetDialog, savePreset, deletePreset } = presetState;
  const { cancel } = useLeaveGuard({ dirty, setDialog, leaveGuard });
  const { onConnect, isValidConnection, updateParams, removeNode } = useNodeEditing({ nodes, setNodes, setEdges, setProblems });
  const adding = useAddNodes({ canvasRef, nodes, edges, setNodes, setEdges, presets, confirm, setTab });
  const { saving, save, doExport } = useSave({ flow, selected, showProblem, clearProblems, showError, setSteps, onToast });

  const nodeTypeById = useMemo(() => Object.fromEntries(nodes.map((n) => [n.id, n.data.type])), [nodes]);
  const hasEvent = nodes.some((n) => kindOf(n.data.type) === 'event');

  if (flow.loadError) {
    const { loadError } = flow;
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

  const selectedKind = selected ? kindOf(selected.data.type) : null;

  return (
    <div className="editor" data-testid="editor">
      <EditorBar
        base={base}
        setBase={setBase}
        flowId={flowId}
        dirty={dirty}
        nameInvalid={problems.name.length > 0}
        tab={tab}
        setTab={setTab}
        onExport={doExport}
        onCancel={cancel}
        onSave={save}
        saving={saving}
      />
      <ProblemBanners
        problems={problems}
        problemTitle={problemTitle}
        onClose={clearProblems}
        missingSecrets={missingSecrets}
        nodeTypeById={nodeTypeById}
        selectNode={selectNode}
      />
      <div className="editor-body">
        <Palette presets={presets} onAdd={(type) => adding.addNode(type)} onAddPreset={(id) => adding.addPreset(id)} onDeletePreset={deletePreset} />
        <EditorCanvas
          canvasRef={canvasRef}
          nodes={nodes}
          edges={edges}
          nodeTypeById={nodeTypeById}
          problems={problems}
          steps={steps}
          onNodesChange={flow.onNodesChange}
          onEdgesChange={flow.onEdgesChange}
          onConnect={onConnect}
          isValidConnection={isValidConnection}
          onDragOver={adding.onDragOver}
          onDrop={adding.onDrop}
          onNodeClick={() => setTab('params')}
          hasEvent={hasEvent}
          selectedKind={selectedKind}
          openPresetDialog={openPresetDialog}
        />
        <SidePanel
          tab={tab}
          setTab={setTab}
          base={base}
          setBase={setBase}
          selected={selected}
          doc={doc}
          flowId={flowId}
          dirty={dirty}
          nodeTypeById={nodeTypeById}
          onSteps={setSteps}
          onProblem={showProblem}
          selectNode={selectNode}
          onToast={onToast}
          nodes={nodes}
          edges={edges}
          setEdges={setEdges}
          problems={problems}
          missingSecrets={missingSecrets}
          hasEvent={hasEvent}
          updateParams={updateParams}
          removeNode={removeNode}
          openPresetDialog={openPresetDialog}
          onRestored={(restored) => flow.applyLoaded(restored)}
        />
      </div>
      <EditorDialogs dialog={dialog} setDialog={setDialog} savePreset={savePreset} presetError={presetError} />
    </div>
  );
}
