// The editor's modal: a confirmation, or the template name prompt «Введите название шаблона».
import { useI18n } from '../i18n.js';
import { ConfirmDialog, PromptDialog } from '../components/common.jsx';

export function EditorDialogs({ dialog, setDialog, savePreset, presetError }) {
  const { t } = useI18n();
  if (dialog?.type === 'confirm') {
    return (
      <ConfirmDialog
        title={dialog.title}
        text={dialog.text}
        confirmLabel={dialog.confirmLabel}
        cancelLabel={dialog.cancelLabel}
        danger={dialog.danger}
        onConfirm={dialog.onConfirm}
        onCancel={dialog.onCancel}
      />
    );
  }
  if (dialog?.type === 'preset') {
    return (
      <PromptDialog
        title={dialog.kind === 'trigger' ? t('editor.saveTrigger') : t('editor.saveAction')}
        placeholder={t('editor.presetName')}
        onSubmit={savePreset}
        onCancel={() => setDialog(null)}
        error={presetError}
        testId={`preset-dialog-${dialog.kind}`}
      />
    );
  }
  return null;
}
