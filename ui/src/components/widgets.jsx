// rjsf widgets for the schema hints: x-secret, x-template (variable picker), x-widget html / status-list.
import { useEffect, useId, useRef, useState } from 'react';
import { useCatalog } from '../catalog.js';
import { SECRET_PLACEHOLDER } from '../flowDoc.js';
import { pick, useI18n } from '../i18n.js';

/** Inserts `insert` into `text` replacing [start, end); returns the new text and caret. */
export function insertAt(text, start, end, insert) {
  const s = String(text ?? '');
  const a = Number.isInteger(start) ? Math.max(0, Math.min(start, s.length)) : s.length;
  const b = Number.isInteger(end) ? Math.max(a, Math.min(end, s.length)) : a;
  return { text: s.slice(0, a) + insert + s.slice(b), caret: a + insert.length };
}

function errorClass(rawErrors) {
  return rawErrors && rawErrors.length ? ' input-invalid' : '';
}

export function SecretWidget({ id, value, required, disabled, readonly, onChange, onBlur, onFocus, placeholder, rawErrors, autofocus, options }) {
  const { t } = useI18n();
  const missing = Boolean(options?.secretMissing) && value === SECRET_PLACEHOLDER;
  const isSet = value === SECRET_PLACEHOLDER && !missing;
  const wasSet = useRef(value === SECRET_PLACEHOLDER);
  return (
    <div className="secret-field">
      <input
        id={id}
        name={id}
        type="password"
        className={`input${errorClass(rawErrors)}`}
        autoComplete="new-password"
        value={isSet || missing ? '' : value ?? ''}
        placeholder={isSet ? '••••••••' : missing ? t('form.secretMissing') : placeholder}
        title={isSet ? t('form.secretKeep') : undefined}
        required={required && !isSet}
        disabled={disabled}
        readOnly={readonly}
        autoFocus={autofocus}
        aria-invalid={rawErrors?.length ? true : undefined}
        aria-describedby={isSet ? `${id}__set` : undefined}
        onChange={(e) => {
          const v = e.target.value;
          // Emptying a field that held a stored secret keeps the stored secret.
          onChange(v === '' ? (wasSet.current ? SECRET_PLACEHOLDER : undefined) : v);
        }}
        onBlur={(e) => onBlur(id, e.target.value)}
        onFocus={(e) => onFocus(id, e.target.value)}
      />
      {isSet && (
        <span className="badge badge-set" id={`${id}__set`} data-testid={`${id}__set`}>
          {t('form.secretSet')}
        </span>
      )}
      {missing && (
        <span className="badge badge-failed" data-testid={`${id}__missing`}>
          {t('form.secretNotSet')}
        </span>
      )}
    </div>
  );
}

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

/** A text input or textarea whose variable picker inserts `{name}` at the caret. */
export function TemplateWidget(props) {
  const { id, value, required, disabled, readonly, onChange, onBlur, onFocus, placeholder, options, rawErrors, autofocus, schema } = props;
  const ref = useRef(null);
  const caret = useRef(null);
  const multiline = Boolean(options?.multiline);
  const remember = () => {
    const el = ref.current;
    if (el) caret.current = [el.selectionStart, el.selectionEnd];
  };
  const insert = (token) => {
    const [start, end] = caret.current || [undefined, undefined];
    const { text, caret: pos } = insertAt(value, start, end, token);
    onChange(text);
    caret.current = [pos, pos];
    requestAnimationFrame(() => {
      const el = ref.current;
      if (!el) return;
      el.focus();
      el.setSelectionRange(pos, pos);
    });
  };
  const common = {
    id,
    name: id,
    ref,
    className: `input${multiline ? ' textarea' : ''}${errorClass(rawErrors)}`,
    value: value ?? '',
    placeholder,
    required,
    disabled,
    readOnly: readonly,
    autoFocus: autofocus,
    maxLength: schema?.maxLength,
    'aria-invalid': rawErrors?.length ? true : undefined,
    onChange: (e) => {
      onChange(e.target.value === '' ? options?.emptyValue : e.target.value);
      caret.current = [e.target.selectionStart, e.target.selectionEnd];
    },
    onSelect: remember,
    onKeyUp: remember,
    onClick: remember,
    onBlur: (e) => {
      remember();
      onBlur(id, e.target.value);
    },
    onFocus: (e) => onFocus(id, e.target.value),
  };
  return (
    <div className="template-field">
      {multiline ? <textarea {...common} rows={options?.rows || 4} spellCheck={false} /> : <input type="text" {...common} />}
      <div className="field-tools">
        <VariablePicker onPick={insert} fieldId={id} />
        {props.children}
      </div>
    </div>
  );
}

/** Textarea + variable picker + «Загрузить HTML-файл». */
export function HtmlWidget(props) {
  const { t } = useI18n();
  const [loaded, setLoaded] = useState('');
  const fileId = `${props.id}__file`;
  const onFile = async (e) => {
    const file = e.target.files?.[0];
    if (!file) return;
    props.onChange(await file.text());
    setLoaded(file.name);
    e.target.value = '';
  };
  const body = (
    <>
      <label className="btn btn-sm btn-ghost file-btn" htmlFor={fileId}>
        {t('form.uploadHtml')}
      </label>
      <input id={fileId} type="file" accept=".html,.htm,text/html" className="visually-hidden-file" onChange={onFile} data-testid={fileId} />
      {loaded && <span className="muted small" role="status">{t('form.htmlLoaded', { name: loaded })}</span>}
    </>
  );
  const options = { ...props.options, multiline: true, rows: props.options?.rows || 10 };
  if (!props.options?.template) {
    return (
      <div className="template-field">
        <textarea id={props.id} className="input textarea" rows={options.rows} value={props.value ?? ''} onChange={(e) => props.onChange(e.target.value)} />
        <div className="field-tools">{body}</div>
      </div>
    );
  }
  return (
    <TemplateWidget {...props} options={options}>
      {body}
    </TemplateWidget>
  );
}

/** A list of strings (order statuses): chips with a remove button and an input to add. */
export function StatusListWidget({ id, value, onChange, disabled, readonly, rawErrors }) {
  const { t } = useI18n();
  const [draft, setDraft] = useState('');
  const items = toStatusList(value);
  const add = () => {
    const v = draft.trim();
    if (!v) return;
    if (!items.includes(v)) onChange([...items, v]);
    setDraft('');
  };
  return (
    <div className={`status-list${errorClass(rawErrors)}`} id={id} data-testid={id}>
      <ul className="chips">
        {items.map((v, i) => (
          <li key={`${v}-${i}`} className="chip">
            <span>{v}</span>
            {!readonly && (
              <button
                type="button"
                className="chip-remove"
                aria-label={t('form.removeItem', { value: v })}
                disabled={disabled}
                onClick={() => onChange(items.filter((_, j) => j !== i))}
              >
                ×
              </button>
            )}
          </li>
        ))}
      </ul>
      {!readonly && (
        <div className="status-add">
          <input
            id={`${id}__new`}
            className="input input-sm"
            value={draft}
            placeholder={t('form.statusPlaceholder')}
            aria-label={t('form.statusPlaceholder')}
            disabled={disabled}
            onChange={(e) => setDraft(e.target.value)}
            onKeyDown={(e) => {
              if (e.key === 'Enter') {
                e.preventDefault();
                add();
              }
            }}
          />
          <button type="button" className="btn btn-sm" onClick={add} disabled={disabled || !draft.trim()}>
            {t('form.addStatus')}
          </button>
        </div>
      )}
    </div>
  );
}

/** Splits "Новая, В работе" into ["Новая", "В работе"]. */
export function toStatusList(value) {
  if (Array.isArray(value)) return value.filter((x) => x !== undefined && x !== null && x !== '').map(String);
  if (typeof value === 'string') return value.split(',').map((x) => x.trim()).filter(Boolean);
  return [];
}

/** The status list as an rjsf field, for properties that accept "a list or a comma-separated string". */
export function StatusListField({ fieldPathId, formData, onChange, disabled, readonly, rawErrors }) {
  return (
    <StatusListWidget
      id={fieldPathId?.$id}
      value={toStatusList(formData)}
      onChange={(v) => onChange(v.length ? v : undefined, fieldPathId?.path ?? [])}
      disabled={disabled}
      readonly={readonly}
      rawErrors={rawErrors}
    />
  );
}

export const fields = { statusList: StatusListField };

export const widgets = {
  secret: SecretWidget,
  template: TemplateWidget,
  html: HtmlWidget,
  statusList: StatusListWidget,
};
