// What a scenario row and the bulk bar do: on/off, «Дублировать», export, delete, bulk on/off.
import { useState } from 'react';
import { api, downloadJson, errorText, exportFileName } from '../api.js';
import { flowsApi } from '../apiFlows.js';

/** "title: message; message" for a problem that has no place in the list. */
export function problemSummary(err, t) {
  const errs = err?.problem?.errors;
  if (Array.isArray(errs) && errs.length) return errs.map((e) => e.message).join('; ');
  return errorText(err, t);
}

export function useFlowActions({ pending, setFlows, setError, load, onToast, t }) {
  const [confirmDelete, setConfirmDelete] = useState(null);
  const [busy, setBusy] = useState(false);
  const patchLocal = (ids, enabled) => setFlows((fs) => fs.map((f) => (ids.includes(f.id) ? { ...f, enabled } : f)));

  const toggle = async (flow, enabled) => {
    pending.current.add(flow.id);
    patchLocal([flow.id], enabled);
    try {
      const updated = await api.patchFlow(flow.id, { enabled });
      patchLocal([flow.id], updated?.enabled ?? enabled);
      setError(null);
    } catch (err) {
      patchLocal([flow.id], !enabled);
      setError(`${flow.name}: ${problemSummary(err, t)}`);
    } finally {
      pending.current.delete(flow.id);
    }
  };

  const bulk = async (ids, enabled) => {
    setBusy(true);
    try {
      const changed = await flowsApi.bulk(ids, enabled);
      patchLocal(ids, enabled);
      setError(null);
      onToast('list.bulkDone', { count: changed.length });
    } catch (err) {
      setError(problemSummary(err, t));
    } finally {
      setBusy(false);
    }
  };

  const duplicate = async (flow) => {
    try {
      const copy = await flowsApi.duplicate(flow.id);
      onToast('list.duplicated', { name: copy.name });
      await load();
    } catch (err) {
      setError(errorText(err, t));
    }
  };

  const doDelete = async () => {
    const flow = confirmDelete;
    setConfirmDelete(null);
    try {
      await api.deleteFlow(flow.id);
      setFlows((fs) => fs.filter((f) => f.id !== flow.id));
      onToast('list.deleted');
    } catch (err) {
      setError(errorText(err, t));
    }
  };

  const doExport = async (flow) => {
    try {
      downloadJson(exportFileName(flow.name), await api.exportFlow(flow.id));
    } catch (err) {
      setError(errorText(err, t));
    }
  };

  return { toggle, bulk, busy, duplicate, doExport, doDelete, confirmDelete, askDelete: setConfirmDelete };
}
