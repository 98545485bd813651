// rjsf widgets for the schema hints: x-secret, x-template (variable picker), x-widget html / status-list.
import { useRef, useState } from 'react';
import { SECRET_PLACEHOLDER } from '../flowDoc.js';
import { useI18n } from '../i18n.js';
import { errorClass } from './common.jsx';
import { HeadersField, HiddenField } from './HeadersField.jsx';
import { StatusListField, StatusListWidget, toStatusList } from './StatusList.jsx';
import { VariablePicker } from './VariablePicker.jsx';
import { ConnectionWidget } from './ConnectionPicker.jsx';
import { ConditionListField } from './ConditionList.jsx';
import { VariantsField } from './VariantsField.jsx';

export { toStatusList };

/** Inserts `insert` into `text` replacing [start, end); returns the new text and caret. */
export function insertAt(text, start, end, insert) {
  const s = String(text ?? '');
  const a = Number.isInteger(start) ? Math.max(0, Math.min(start, s.length)) : s.length;
  const b = Number.isInteger(end) ? Math.max(a, Math.min(end, s.length)) : a;
  return { text: s.slice(0, a) + insert + s.slice(b), caret: a + insert.length };
}

export function SecretWidget({ id, value, required, disabled, readonly, onChange, onBlur, onFocus, placeholder, rawErrors, autofocus, options }) {
  const { t } = useI18n();
  const missing = Boolean(options?.secretMissing) && value === SECRET_PLACEHOLDER;
  const isSet = value === SECRET_PLACEHOLDER && !missing;
  const wasSet = useRef(value === SECRET_PLACEHOLDER);
  const [shown, setShown] = useState(false);
  // what the user typed in this form can be shown; a stored secret never comes back from the API
  const typed = !isSet && !missing && Boolean(value);
  return (
    <div className="secret-field">
      <input
        id={id}
        name={id}
        type={typed && shown ? 'text' : 'password'}
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
      {typed && (
        <button
          type="button"
          className="btn btn-link"
          data-testid={`${id}__show`}
          aria-pressed={shown}
          onClick={() => setShown(!shown)}
        >
          {shown ? t('form.secretHide') : t('form.secretShow')}
        </button>
      )}
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

export const fields = {
  statusList: StatusListField,
  headers: HeadersField,
  hidden: HiddenField,
  conditions: ConditionListField,
  variants: VariantsField,
};

export const widgets = {
  secret: SecretWidget,
  template: TemplateWidget,
  html: HtmlWidget,
  statusList: StatusListWidget,
  connection: ConnectionWidget,
};
