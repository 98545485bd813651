// One list of run steps (test run or history): node, status, verdict, output, error.
import { useCatalog } from '../catalog.js';
import { pick, useI18n } from '../i18n.js';
import { JsonView, StatusBadge, formatClock } from './common.jsx';
import { stepErrorText } from '../stepErrors.js';

export function StepList({ steps, nodeTypes = {}, onSelectNode, showAttempts }) {
  const { t, lang } = useI18n();
  const { byType } = useCatalog();
  if (!steps || steps.length === 0) return <p className="muted small">{t('test.noSteps')}</p>;
  return (
    <ol className="step-list">
      {steps.map((s, i) => {
        const type = s.type || nodeTypes[s.node_id];
        const title = byType[type] ? pick(byType[type].title, lang) : type || s.node_id;
        // a send-window wait names the opening in the window's own time zone (engine/sendwindow.py)
        const windowAt = s.status === 'waiting' ? (/^ждёт окна отправки до (\d\d:\d\d)/.exec(s.error || '') || [])[1] : null;
        return (
          <li key={`${s.node_id}-${i}`} className={`step step-${s.status}`} data-testid={`step-${s.node_id}`} data-status={s.status}>
            <div className="step-head">
              {onSelectNode ? (
                <button type="button" className="link-btn step-title" onClick={() => onSelectNode(s.node_id)}>
                  {title}
                </button>
              ) : (
                <span className="step-title">{title}</span>
              )}
              <code className="step-id" title={s.node_id}>{s.node_id}</code>
              <StatusBadge status={s.status} />
            </div>
            {s.verdict !== null && s.verdict !== undefined && (
              <div className={`step-verdict verdict-${s.verdict}`} data-testid={`step-verdict-${s.node_id}`}>
                {t('step.verdict', { value: s.verdict ? t('common.yes') : t('common.no') })}
              </div>
            )}
            {typeof s.output?.variant === 'string' && (
              <div className="step-verdict" data-testid={`step-variant-${s.node_id}`}>
                {t('split.key')}: {s.output.variant}
              </div>
            )}
            {Array.isArray(s.output?.items) && <GroupTrace items={s.output.items} testid={`step-items-${s.node_id}`} />}
            {showAttempts && s.attempts > 0 && (
              <div className="muted small">{t('runs.attempts', { count: s.attempts })}</div>
            )}
            {(s.status === 'retrying' || s.status === 'waiting') && s.resume_at && !windowAt && (
              <div className="step-retry" data-testid={`step-retry-${s.node_id}`}>
                {t(/^receiver unavailable/.test(s.error || '') ? 'step.unavailable' : 'step.retryAt', {
                  time: formatClock(s.resume_at, lang),
                })}
              </div>
            )}
            {windowAt && (
              <div className="step-retry" data-testid={`step-window-${s.node_id}`}>
                {t('step.windowWait', { time: windowAt })}
              </div>
            )}
            {s.status === 'would_wait' && s.output?.send_window && (
              <div className="step-retry" data-testid={`step-send-at-${s.node_id}`}>
                {t('step.sendAt', { time: s.output.send_window.local, zone: s.output.send_window.timezone })}
              </div>
            )}
            {s.error && !windowAt && s.status !== 'would_wait' && (
              <div className="step-error" role="note" data-testid={`step-error-${s.node_id}`}>
                {t(s.status === 'blocked' ? 'step.blocked' : 'step.error', {
                  message: stepErrorText(s.error, lang),
                  reason: stepErrorText(s.error, lang),
                })}
              </div>
            )}
            {s.output && Object.keys(s.output).length > 0 && (
              <details className="step-output" open={!showAttempts}>
                <summary>{t('step.output')}</summary>
                <OutputView output={s.output} />
              </details>
            )}
          </li>
        );
      })}
    </ol>
  );
}

/** A condition group's inner verdicts, nested groups as nested lists. */
function GroupTrace({ items, testid }) {
  const { t, lang } = useI18n();
  const { byType } = useCatalog();
  return (
    <ul className="group-trace" data-testid={testid}>
      {items.map((item, i) => (
        <li key={i} className={`verdict-${item.verdict}`}>
          {byType[item.type] ? pick(byType[item.type].title, lang) : item.type}: {item.verdict ? t('common.yes') : t('common.no')}
          {Array.isArray(item.items) && <GroupTrace items={item.items} />}
        </li>
      ))}
    </ul>
  );
}

/** Rendered messages read best as text; anything else as JSON. */
function OutputView({ output }) {
  const textKeys = ['text', 'subject', 'message'];
  const texts = textKeys.filter((k) => typeof output[k] === 'string');
  // A request preview ({method, url, body: {text}}) shows its message text first, then the request.
  const body = output.body && typeof output.body === 'object' ? output.body : null;
  const bodyTexts = body ? textKeys.filter((k) => typeof body[k] === 'string') : [];
  const htmlBody = typeof output.html === 'string' ? output.html : null;
  const rest = Object.fromEntries(Object.entries(output).filter(([k]) => !texts.includes(k) && k !== 'html'));
  return (
    <div className="output-view">
      {texts.map((k) => (
        <div key={k} className="output-text">
          <span className="output-key">{k}</span>
          <div className="output-value">{output[k]}</div>
        </div>
      ))}
      {bodyTexts.map((k) => (
        <div key={`body-${k}`} className="output-text">
          <span className="output-key">{k}</span>
          <div className="output-value">{body[k]}</div>
        </div>
      ))}
      {htmlBody !== null && (
        <div className="output-text">
          <span className="output-key">html</span>
          <iframe className="output-html" title="html" sandbox="" srcDoc={htmlBody} />
        </div>
      )}
      {Object.keys(rest).length > 0 && <JsonView value={rest} />}
    </div>
  );
}
