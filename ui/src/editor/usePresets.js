// Templates (presets): the list in the palette, saving the trigger part or the selected action as one,
// and deleting one.
import { useEffect, useState } from 'react';
import { api, errorText } from '../api.js';
import { useI18n } from '../i18n.js';
import { actionPart, triggerPart } from '../presetParts.js';

export function usePresets({ routeId, nodes, edges, selected, dialog, setDialog, confirm, onToast, showError }) {
  const { t } = useI18n();
  const [presets, setPresets] = useState([]);
  const [presetError, setPresetError] = useState(null);

  // Loaded with the flow.
  useEffect(() => {
    let cancelled = false;
    api
      .presets()
      .then((p) => !cancelled && setPresets(p))
      .catch(() => {});
    return () => {
      cancelled = true;
    };
  }, [routeId]);

  /** Opens «Введите название шаблона» for a trigger or an action template. */
  const openPresetDialog = (kind) => {
    setPresetError(null);
    setDialog({ type: 'preset', kind });
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
      showError(err);
    }
  };

  return { presets, presetError, openPresetDialog, savePreset, deletePreset };
}
