// The editor's top bar: the flow name, «Отменить» / «Повторить» / «Дублировать», «Включить сценарий»,
// export, test, history, cancel and save.
import { useI18n } from '../i18n.js';
import { Toggle } from '../components/common.jsx';

export function EditorBar({ base, setBase, flowId, dirty, nameInvalid, tab, setTab, onExport, onCancel, onSave, saving, history, clip }) {
  const { t } = useI18n();
  return (
    <div className="editor-bar">
      <div className="editor-title">
        {!flowId && <span className="editor-caption">{t('editor.createTitle')}</span>}
        <h1 className="visually-hidden">{base.name || t('editor.createTitle')}</h1>
        <input
          className={`input name-input${nameInvalid ? ' input-invalid' : ''}`}
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
        <EditButtons history={history} clip={clip} />
        <Toggle
          checked={base.enabled}
          onChange={(v) => setBase((b) => ({ ...b, enabled: v }))}
          label={t('editor.enable')}
          showLabel
          testId="flow-enabled"
        />
        <button type="button" className="btn" onClick={onExport} data-testid="editor-export">
          {t('editor.export')}
        </button>
        <button type="button" className={`btn${tab === 'test' ? ' btn-active' : ''}`} onClick={() => setTab('test')} data-testid="editor-test">
          {t('editor.test')}
        </button>
        <button type="button" className={`btn${tab === 'history' ? ' btn-active' : ''}`} onClick={() => setTab('history')} data-testid="editor-history">
          {t('editor.history')}
        </button>
        <button type="button" className="btn" onClick={onCancel} data-testid="editor-cancel">
          {t('editor.cancel')}
        </button>
        <button type="button" className="btn btn-primary" onClick={onSave} disabled={saving} data-testid="flow-save">
          {saving ? t('editor.saving') : t('editor.save')}
        </button>
      </div>
    </div>
  );
}

/** «Отменить» (Ctrl+Z), «Повторить» (Ctrl+Shift+Z), «Дублировать» (Ctrl+D) of canvas edits. */
function EditButtons({ history, clip }) {
  const { t } = useI18n();
  return (
    <div className="btn-group" role="group" aria-label={t('editor.editing')}>
      <button type="button" className="btn btn-sm" onClick={history.undo} disabled={!history.canUndo} title={t('editor.undoHint')} data-testid="editor-undo">
        {t('editor.undo')}
      </button>
      <button type="button" className="btn btn-sm" onClick={history.redo} disabled={!history.canRedo} title={t('editor.redoHint')} data-testid="editor-redo">
        {t('editor.redo')}
      </button>
      <button type="button" className="btn btn-sm" onClick={clip.duplicate} disabled={!clip.canDuplicate} title={t('editor.duplicateHint')} data-testid="editor-duplicate">
        {t('editor.duplicate')}
      </button>
    </div>
  );
}
