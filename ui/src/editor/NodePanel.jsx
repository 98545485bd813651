// The «Параметры» tab with a node selected: its kind, title, description, errors, the form generated
// from its schema, its connections, and «Сохранить … как шаблон» / «Удалить узел».
import { useCatalog } from '../catalog.js';
import { edgeId, kindOf } from '../flowDoc.js';
import { pick, useI18n } from '../i18n.js';
import { Banner } from '../components/common.jsx';
import { Connections } from '../components/Connections.jsx';
import { NodeForm } from '../components/NodeForm.jsx';

export function NodePanel({ selected, nodes, edges, setEdges, problems, missingSecrets, hasEvent, updateParams, removeNode, duplicate, endEditRun, openPresetDialog }) {
  const { t, lang } = useI18n();
  const catalog = useCatalog();
  const selectedDef = catalog.byType[selected.data.type];
  const selectedKind = kindOf(selected.data.type);
  const selectedProblems = problems.nodes[selected.id];

  return (
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
        onBlur={endEditRun}
      />
      <Connections
        key={`conn:${selected.id}`}
        node={selected}
        nodes={nodes}
        edges={edges}
        onAdd={(edge) => setEdges((es) => [...es, edge])}
        onRemove={(id) => setEdges((es) => es.filter((e) => e.id !== id))}
        onBranch={(id, branch) =>
          setEdges((es) => es.map((e) => (e.id === id ? { ...e, id: edgeId(e.source, e.target, branch), data: { ...e.data, branch } } : e)))
        }
      />
      <div className="node-panel-foot">
        {selectedKind === 'action' && (
          <button type="button" className="btn btn-sm btn-link" onClick={() => openPresetDialog('action')}>
            {t('editor.saveAction')}
          </button>
        )}
        {(selectedKind === 'event' || selectedKind === 'condition') && (
          <button type="button" className="btn btn-sm btn-link" disabled={!hasEvent} onClick={() => openPresetDialog('trigger')}>
            {t('editor.saveTrigger')}
          </button>
        )}
        {selectedKind !== 'event' && (
          <button type="button" className="btn btn-sm btn-link" onClick={duplicate} data-testid="panel-node-duplicate">
            {t('editor.duplicate')}
          </button>
        )}
        <button type="button" className="btn btn-sm btn-danger-text" onClick={() => removeNode(selected.id)} data-testid="panel-node-delete">
          {t('editor.deleteNode')}
        </button>
      </div>
    </div>
  );
}
