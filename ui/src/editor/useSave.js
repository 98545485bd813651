// «Сохранить сценарий» (create or update, then reload what the server answered) and export.
import { useState } from 'react';
import { ApiError, api, downloadJson, exportFileName } from '../api.js';
import { useCatalog } from '../catalog.js';
import { maskSecrets } from '../flowDoc.js';
import { flowHash, replaceHash } from '../router.js';

export function useSave({ flow, selected, showProblem, clearProblems, showError, setSteps, onToast }) {
  const catalog = useCatalog();
  const [saving, setSaving] = useState(false);
  const { doc, flowId, setFlowId, applyLoaded, dirty, base } = flow;

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
      clearProblems();
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

  /** The saved flow as the server exports it, or the unsaved document with its secrets masked. */
  const doExport = async () => {
    try {
      const data = flowId && !dirty ? await api.exportFlow(flowId) : maskSecrets(doc, catalog.byType);
      downloadJson(exportFileName(base?.name), data);
    } catch (err) {
      showError(err);
    }
  };

  return { saving, save, doExport };
}
