// One run of the history: status, time, event, who it was about (a client links to the client's
// card), and under «▸» its trigger, duration, reason and steps; «Повторить» for a failed run.
import { useI18n } from '../i18n.js';
import { flowHash } from '../router.js';
import { StatusBadge, formatTime } from './common.jsx';
import { StepList } from './Steps.jsx';
import { RunWho } from './RunFilters.jsx';
import { triggerLabel } from '../tryout.js';

/** `showFlow`: the history of every scenario names each run's scenario. */
export function RunItem({ run, nodeTypes, onSelectNode, onRetry, showFlow = false }) {
  const { t, lang } = useI18n();
  return (
    <li className="run" data-testid={`run-${run.id}`} data-status={run.status}>
      <details>
        <summary aria-label={t('runs.showSteps', { time: formatTime(run.created_at, lang) })}>
          <StatusBadge status={run.status} />
          <span className="run-time">{formatTime(run.created_at, lang)}</span>
          {showFlow && run.flow_id && (
            <a className="run-flow" href={flowHash(run.flow_id)} data-testid={`run-flow-${run.id}`}>
              {run.flow_name || run.flow_id}
            </a>
          )}
          {run.event_type && <code className="run-event">{run.event_type}</code>}
          <RunWho run={run} />
        </summary>
        <div className="run-body">
          {run.trigger && <div className="muted small" data-testid="run-trigger">{t('runs.trigger', { trigger: typeof run.trigger === 'string' ? triggerLabel(lang, run.trigger) : JSON.stringify(run.trigger) })}</div>}
          {run.finished_at && run.created_at && (
            <div className="muted small">{t('runs.duration', { value: duration(run.created_at, run.finished_at) })}</div>
          )}
          {run.error && (run.status === 'suppressed' || run.status === 'cancelled') && (
            <div className="run-suppressed" role="note" data-testid={`run-reason-${run.id}`}>
              {t(`runs.${run.status}`, { reason: run.error })}
            </div>
          )}
          {run.error && run.status !== 'suppressed' && run.status !== 'cancelled' && (
            <div className="step-error" role="note">
              {t('step.error', { message: run.error })}
            </div>
          )}
          {run.next_attempt_at && !run.finished_at && (
            <div className="muted small">{t('runs.nextAttempt', { time: formatTime(run.next_attempt_at, lang) })}</div>
          )}
          <StepList steps={run.steps} nodeTypes={nodeTypes} onSelectNode={onSelectNode} showAttempts />
        </div>
      </details>
      {run.status === 'failed' && onRetry && (
        <button type="button" className="btn btn-sm" onClick={() => onRetry(run)} data-testid={`run-retry-${run.id}`}>
          {t('runs.retry')}
        </button>
      )}
    </li>
  );
}

function duration(a, b) {
  const ms = new Date(b) - new Date(a);
  if (!Number.isFinite(ms) || ms < 0) return '—';
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.round(ms / 60000)} min`;
}
