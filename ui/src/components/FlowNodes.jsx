// Canvas node cards: event (one output), condition (input, outputs "да"/"нет"), action and delay (input, output).
import { createContext, memo, useContext } from 'react';
import { Handle, Position } from '@xyflow/react';
import { useCatalog } from '../catalog.js';
import { pick, statusLabel, useI18n } from '../i18n.js';
import { nodeSummary } from '../summaries.js';
import { branchKeys, isBranching } from '../flowDoc.js';

/** Per-node errors (mapped problems) and the last test run's steps, by node id. */
export const CanvasContext = createContext({ nodeProblems: {}, steps: {} });

function NodeCard({ id, data, selected, kind }) {
  const { t, lang } = useI18n();
  const { byType } = useCatalog();
  const { nodeProblems, steps } = useContext(CanvasContext);
  const def = byType[data.type];
  const problem = nodeProblems[id];
  const hasError = Boolean(problem && (problem.messages.length || Object.keys(problem.fields).length));
  const step = steps[id];
  const title = def ? pick(def.title, lang) : data.type;
  const summary = def ? nodeSummary(def, data.params, lang) : '';
  const classes = ['fnode', `fnode-${kind}`];
  if (selected) classes.push('selected');
  if (hasError) classes.push('fnode-error');
  if (!def) classes.push('fnode-unknown');
  const outs = branchKeys(data.type);
  const errorText = hasError ? [...problem.messages, ...collectFieldMessages(problem.fields)].join('\n') : '';

  return (
    <div
      className={classes.join(' ')}
      data-testid={`node-${id}`}
      data-type={data.type}
      data-error={hasError ? 'true' : undefined}
      data-step-status={step?.status}
      title={errorText || undefined}
      aria-label={`${t(`kind.${kind}`)}: ${title}${hasError ? ` — ${t('node.hasErrors')}` : ''}`}
    >
      {kind !== 'event' && (
        <Handle type="target" position={Position.Top} id="in" className="handle handle-in" data-testid={`handle-${id}-in`} aria-label={t('node.in')} />
      )}
      <div className="fnode-head">
        <span className="fnode-kind">{t(`kind.${kind}`)}</span>
        {step && (
          <span className={`badge badge-${step.status}`} data-testid={`step-badge-${id}`}>
            {step.verdict === true
              ? t(outs.true)
              : step.verdict === false
                ? t(outs.false)
                : step.output?.variant !== undefined
                  ? `${t('split.key')} ${step.output.variant}`
                  : statusLabel(lang, step.status)}
          </span>
        )}
        {hasError && <span className="fnode-error-mark" aria-hidden="true">!</span>}
      </div>
      <div className="fnode-title">{title}</div>
      {!def && <div className="fnode-summary text-danger">{t('node.unknownType')}</div>}
      {summary && <div className="fnode-summary" data-testid={`summary-${id}`}>{summary}</div>}
      {isBranching(data.type) ? (
        <>
          <Handle
            type="source"
            position={Position.Bottom}
            id="true"
            className="handle handle-true"
            style={{ left: '30%' }}
            data-testid={`handle-${id}-true`}
            aria-label={t(outs.true)}
          />
          <span className="handle-label handle-label-true" style={{ left: '30%' }}>{t(outs.true)}</span>
          <Handle
            type="source"
            position={Position.Bottom}
            id="false"
            className="handle handle-false"
            style={{ left: '70%' }}
            data-testid={`handle-${id}-false`}
            aria-label={t(outs.false)}
          />
          <span className="handle-label handle-label-false" style={{ left: '70%' }}>{t(outs.false)}</span>
        </>
      ) : (
        <Handle type="source" position={Position.Bottom} id="out" className="handle handle-out" data-testid={`handle-${id}-out`} aria-label={t('node.out')} />
      )}
    </div>
  );
}

function collectFieldMessages(fields, out = []) {
  for (const [k, v] of Object.entries(fields || {})) {
    if (k === '__errors') out.push(...v);
    else if (v && typeof v === 'object') collectFieldMessages(v, out);
  }
  return out;
}

const EventNode = memo((p) => <NodeCard {...p} kind="event" />);
const ConditionNode = memo((p) => <NodeCard {...p} kind="condition" />);
const ActionNode = memo((p) => <NodeCard {...p} kind="action" />);
const FlowControlNode = memo((p) => <NodeCard {...p} kind="flow" />);

export const nodeTypes = { event: EventNode, condition: ConditionNode, action: ActionNode, flow: FlowControlNode };
