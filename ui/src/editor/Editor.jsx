// The scenario editor: palette, React Flow canvas, node form / test / run-history panel, top bar.
// State and behaviour live in the use* hooks next to this file; the parts are plain components.
import { useCallback, useMemo, useRef, useState } from 'react';
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
import { useClipboard } from './useClipboard.js';
import { useDialog } from './useDialog.js';
import { useFlowDocument } from './useFlowDocument.js';
import { useHistory } from './useHistory.js';
import { useLeaveGuard } from './useLeaveGuard.js';
import { useNodeEditing } from './useNodeEditing.js';
import { usePresets } from './usePresets.js';
import { useProblems } from './useProblems.js';
import { useSave } from './useSave.js';
import { useSelection } from './useSelection.js';
import { useShortcuts } from './useShortcuts.js';

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
  const history = useHistory({ nodes, edges, setNodes, setEdges });
  const { recordStep } = history;
  const { onConnect, isValidConnection, updateParams, removeNode } = useNodeEditing({ nodes, setNodes, setEdges, setProblems, recordStep });
  const adding = useAddNodes({ canvasRef, nodes, edges, setNodes, setEdges, presets, confirm, setTab, recordStep });
  const clip = useClipboard({ nodes, edges, setNodes, setEdges, flowId, recordStep, onPasted: () => setTab('params') });
  useShortcuts({ undo: history.undo, redo: history.redo, copy: clip.copy, paste: clip.paste, duplicate: clip.duplicate });
  const recordedSetEdges = useCallback((change) => { recordStep(); setEdges(change); }, [recordStep, setEdges]);
  const onNodesChange = useMemo(() => history.recording(flow.onNodesChange), [history.recording, flow.onNodesChange]); // eslint-disable-line react-hooks/exhaustive-deps
  const onEdgesChange = useMemo(() => history.recording(flow.onEdgesChange), [history.recording, flow.onEdgesChange]); // eslint-disable-line react-hooks/exhaustive-deps
  const { saving, save, doExport } = useSave({ flow, selected, showProblem, clearProblems, showError, setSteps, onToast });

  const nodeTypeById = useMemo(() => Object.fromEntries(nodes.map((n) => [n.id, n.data.type])), [nodes]);
  const eventType = nodes.find((n) => kindOf(n.data.type) === 'event')?.data.type ?? null;
  const hasEvent = eventType !== null;

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
        history={history}
        clip={clip}
      />
      <ProblemBanners
        problems={problems}
        problemTitle={problemTitle}
        onClose={clearProblems}
        missingSecrets={missingSecrets}
        nodeTypeById={nodeTypeById}
        selectNode={selectNode}
      />
      <div className={`editor-body${tab === 'stats' ? ' editor-body-wide' : ''}`}>
        <Palette presets={presets} eventType={eventType} onAdd={(type) => adding.addNode(type)} onAddPreset={(id) => adding.addPreset(id)} onDeletePreset={deletePreset} />
        <EditorCanvas
          canvasRef={canvasRef}
          nodes={nodes}
          edges={edges}
          nodeTypeById={nodeTypeById}
          problems={problems}
          steps={steps}
          onNodesChange={onNodesChange}
          onEdgesChange={onEdgesChange}
          onDragStart={() => recordStep()}
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
          setEdges={recordedSetEdges}
          problems={problems}
          missingSecrets={missingSecrets}
          hasEvent={hasEvent}
          updateParams={updateParams}
          removeNode={removeNode}
          duplicate={clip.duplicate}
          endEditRun={history.endEditRun}
          openPresetDialog={openPresetDialog}
          onRestored={(restored) => flow.applyLoaded(restored)}
        />
      </div>
      <EditorDialogs dialog={dialog} setDialog={setDialog} savePreset={savePreset} presetError={presetError} />
    </div>
  );
}
