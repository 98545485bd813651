// Small shared pieces: toggle switch, modal dialogs, banners, status badges, JSON view, input error class.
import { useEffect, useId, useRef, useState } from 'react';
import { statusLabel, useI18n } from '../i18n.js';

export function Toggle({ checked, onChange, label, disabled, testId, showLabel = false, id }) {
  return (
    <label className={`toggle${disabled ? ' toggle-disabled' : ''}`}>
      <input
        id={id}
        type="checkbox"
        role="switch"
        className="toggle-input"
        checked={Boolean(checked)}
        disabled={disabled}
        aria-checked={Boolean(checked)}
        aria-label={showLabel ? undefined : label}
        data-testid={testId}
        onChange={(e) => onChange(e.target.checked)}
      />
      <span className="toggle-track" aria-hidden="true">
        <span className="toggle-thumb" />
      </span>
      {showLabel && <span className="toggle-label">{label}</span>}
    </label>
  );
}

const FOCUSABLE = 'button:not([disabled]), [href], input:not([disabled]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';

export function Modal({ title, onClose, children, footer, testId, wide }) {
  const { t } = useI18n();
  const titleId = useId();
  const ref = useRef(null);
  useEffect(() => {
    const prev = document.activeElement;
    const el = ref.current;
    const first = el?.querySelector('[data-autofocus]') || el?.querySelector(FOCUSABLE);
    first?.focus();
    return () => {
      if (prev && typeof prev.focus === 'function' && document.contains(prev)) prev.focus();
    };
  }, []);
  const onKeyDown = (e) => {
    if (e.key === 'Escape') {
      e.stopPropagation();
      onClose();
    } else if (e.key === 'Tab') {
      const items = Array.from(ref.current.querySelectorAll(FOCUSABLE));
      if (!items.length) return;
      const first = items[0];
      const last = items[items.length - 1];
      if (e.shiftKey && document.activeElement === first) {
        e.preventDefault();
        last.focus();
      } else if (!e.shiftKey && document.activeElement === last) {
        e.preventDefault();
        first.focus();
      }
    }
  };
  return (
    <div className="modal-backdrop" onMouseDown={(e) => e.target === e.currentTarget && onClose()}>
      <div
        className={`modal${wide ? ' modal-wide' : ''}`}
        role="dialog"
        aria-modal="true"
        aria-labelledby={titleId}
        ref={ref}
        onKeyDown={onKeyDown}
        data-testid={testId}
      >
        <div className="modal-head">
          <h2 id={titleId} className="modal-title">{title}</h2>
          <button type="button" className="icon-btn" aria-label={t('common.close')} onClick={onClose}>
            ×
          </button>
        </div>
        <div className="modal-body">{children}</div>
        {footer && <div className="modal-foot">{footer}</div>}
      </div>
    </div>
  );
}

/** A yes/no dialog. `danger` makes the confirm button red. */
export function ConfirmDialog({ title, text, confirmLabel, cancelLabel, onConfirm, onCancel, danger }) {
  const { t } = useI18n();
  return (
    <Modal
      title={title}
      onClose={onCancel}
      testId="confirm-dialog"
      footer={
        <>
          <button type="button" className={`btn ${danger ? 'btn-danger' : 'btn-primary'}`} onClick={onConfirm} data-testid="confirm-ok" data-autofocus>
            {confirmLabel || t('common.confirm')}
          </button>
          <button type="button" className="btn" onClick={onCancel} data-testid="confirm-cancel">
            {cancelLabel || t('common.cancel')}
          </button>
        </>
      }
    >
      <p>{text}</p>
    </Modal>
  );
}

/** A dialog with one text input (the template name). */
export function PromptDialog({ title, placeholder, onSubmit, onCancel, error, busy, testId }) {
  const { t } = useI18n();
  const [value, setValue] = useState('');
  const inputId = useId();
  const submit = (e) => {
    e.preventDefault();
    if (value.trim()) onSubmit(value.trim());
  };
  return (
    <Modal title={title} onClose={onCancel} testId={testId}>
      <form onSubmit={submit} className="prompt-form">
        <label htmlFor={inputId} className="visually-hidden">{placeholder}</label>
        <input
          id={inputId}
          className="input"
          placeholder={placeholder}
          value={value}
          onChange={(e) => setValue(e.target.value)}
          data-autofocus
          data-testid="prompt-input"
          maxLength={200}
        />
        {error && <p className="field-error" role="alert">{error}</p>}
        <div className="modal-foot modal-foot-inline">
          <button type="submit" className="btn btn-primary" disabled={!value.trim() || busy} data-testid="prompt-save">
            {t('common.save')}
          </button>
          <button type="button" className="btn" onClick={onCancel} data-testid="prompt-cancel">
            {t('common.cancel')}
          </button>
        </div>
      </form>
    </Modal>
  );
}

export function Banner({ kind = 'error', children, onClose, testId = 'banner' }) {
  const { t } = useI18n();
  return (
    <div className={`banner banner-${kind}`} role={kind === 'error' ? 'alert' : 'status'} data-testid={testId}>
      <div className="banner-body">{children}</div>
      {onClose && (
        <button type="button" className="icon-btn" aria-label={t('common.dismiss')} onClick={onClose}>
          ×
        </button>
      )}
    </div>
  );
}

export function StatusBadge({ status }) {
  const { lang } = useI18n();
  return (
    <span className={`badge badge-${String(status || 'unknown').replace(/[^a-z_]/gi, '')}`} data-status={status}>
      {statusLabel(lang, status)}
    </span>
  );
}

export function JsonView({ value }) {
  if (value === undefined || value === null) return null;
  const text = typeof value === 'string' ? value : JSON.stringify(value, null, 2);
  return <pre className="json-view">{text}</pre>;
}

/** Hours and minutes only, for a time later today (a retry). */
export function formatClock(value, lang) {
  if (!value) return '';
  const d = new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(value) ? value : `${value}Z`);
  if (Number.isNaN(d.getTime())) return value;
  return d.toLocaleTimeString(lang === 'en' ? 'en-GB' : 'ru-RU', { hour: '2-digit', minute: '2-digit' });
}

export function formatTime(value, lang) {
  if (!value) return '—';
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) return String(value);
  return d.toLocaleString(lang === 'en' ? 'en-GB' : 'ru-RU', { dateStyle: 'short', timeStyle: 'medium' });
}

/** The class suffix of an input with rjsf errors. */
export function errorClass(rawErrors) {
  return rawErrors && rawErrors.length ? ' input-invalid' : '';
}
