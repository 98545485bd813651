// The «{ } Вставить переменную» menu of template fields: the server's variables, filtered as you type.
import { useEffect, useId, useRef, useState } from 'react';
import { useCatalog } from '../catalog.js';
import { pick, useI18n } from '../i18n.js';

export function VariablePicker({ onPick, fieldId }) {
  const { t, lang } = useI18n();
  const { variables } = useCatalog();
  const [open, setOpen] = useState(false);
  const [filter, setFilter] = useState('');
  const menuId = useId();
  const ref = useRef(null);
  const buttonRef = useRef(null);
  useEffect(() => {
    if (!open) return undefined;
    const onDoc = (e) => {
      if (ref.current && !ref.current.contains(e.target)) setOpen(false);
    };
    document.addEventListener('mousedown', onDoc);
    return () => document.removeEventListener('mousedown', onDoc);
  }, [open]);
  const q = filter.trim().toLowerCase();
  const shown = (variables || []).filter(
    (v) => !q || v.name.toLowerCase().includes(q) || pick(v.title, lang).toLowerCase().includes(q),
  );
  const close = () => {
    setOpen(false);
    buttonRef.current?.focus();
  };
  return (
    <div className="var-picker" ref={ref}>
      <button
        type="button"
        ref={buttonRef}
        className="btn btn-sm btn-ghost var-picker-btn"
        aria-haspopup="true"
        aria-expanded={open}
        aria-controls={open ? menuId : undefined}
        onMouseDown={(e) => e.preventDefault() /* keep the caret in the text field */}
        onClick={() => setOpen((o) => !o)}
        data-testid={`${fieldId}__vars`}
      >
        {'{ }'} {t('form.insertVariable')}
      </button>
      {open && (
        <div
          className="var-menu"
          id={menuId}
          role="dialog"
          aria-label={t('form.variables')}
          onKeyDown={(e) => {
            if (e.key === 'Escape') {
              e.stopPropagation();
              close();
            }
          }}
        >
          <input
            className="input input-sm"
            placeholder={t('form.variableFilter')}
            aria-label={t('form.variableFilter')}
            value={filter}
            onChange={(e) => setFilter(e.target.value)}
            autoFocus
          />
          <ul className="var-list">
            {shown.map((v) => (
              <li key={v.name}>
                <button
                  type="button"
                  className="var-item"
                  onMouseDown={(e) => e.preventDefault()}
                  onClick={() => {
                    onPick(`{${v.name}}`);
                    setOpen(false);
                  }}
                  data-testid={`var-${v.name}`}
                >
                  <code>{`{${v.name}}`}</code>
                  <span className="var-title">{pick(v.title, lang)}</span>
                  {v.example !== undefined && v.example !== null && <span className="var-example">{String(v.example)}</span>}
                </button>
              </li>
            ))}
          </ul>
        </div>
      )}
    </div>
  );
}
