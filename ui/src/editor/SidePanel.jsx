// The right panel: tabs «Параметры» (the selected node), «Тест» (a dry run), «Запуски» (runs),
// «Статистика» (charts and conversions), «Версии» and «Настройки» (tags, frequency rule, send window).
import { Suspense, lazy } from 'react';
import { useI18n } from '../i18n.js';
import { RunsPanel } from '../components/RunsPanel.jsx';
import { TestPanel } from '../components/TestPanel.jsx';
import { HistoryPanel } from './HistoryPanel.jsx';
import { NodePanel } from './NodePanel.jsx';
import { TagsField } from './TagsField.jsx';
import '../styles/lists.css';
import { ScenarioSettings } from './ScenarioSettings.jsx';

// the charts (ECharts) load when «Статистика» is first opened, not with the editor
const StatsPanel = lazy(() => import('./StatsPanel.jsx').then((m) => ({ default: m.StatsPanel })));

const TABS = ['params', 'test', 'history', 'stats', 'versions', 'settings'];

export function SidePanel({ tab, setTab, selected, doc, flowId, dirty, nodeTypeById, onSteps, onProblem, selectNode, onToast, base, setBase, onRestored, ...nodePanel }) {
  const { t } = useI18n();
  return (
    <aside className="side-panel" aria-label={t(`panel.${tab}`)} data-testid="side-panel">
      <div className="panel-tabs" role="tablist">
        {TABS.map((k) => (
          <button
            key={k}
            type="button"
            role="tab"
            aria-selected={tab === k}
            className={`panel-tab${tab === k ? ' active' : ''}`}
            onClick={() => setTab(k)}
            data-testid={`panel-tab-${k}`}
          >
            {t(`panel.${k}`)}
          </button>
        ))}
      </div>
      <div className="panel-body" role="tabpanel">
        {tab === 'params' &&
          (selected ? (
            <NodePanel selected={selected} {...nodePanel} />
          ) : (
            <div data-testid="panel-empty">
              <p className="muted">{t('panel.selectNode')}</p>
              <p className="muted small canvas-hint">{t('editor.keyboardHint')}</p>
            </div>
          ))}
        {tab === 'test' && (
          <TestPanel
            getDoc={() => doc}
            savedId={flowId && !dirty ? flowId : null}
            nodeTypes={nodeTypeById}
            onResult={(res) => onSteps(Object.fromEntries((res?.steps || []).map((s) => [s.node_id, s])))}
            onProblem={onProblem}
            onSelectNode={selectNode}
          />
        )}
        {tab === 'history' && <RunsPanel flowId={flowId} nodeTypes={nodeTypeById} onSelectNode={selectNode} onToast={onToast} />}
        {tab === 'stats' && (
          <Suspense fallback={<p className="muted" role="status">{t('app.loading')}</p>}>
            <StatsPanel flowId={flowId} nodes={doc?.nodes} />
          </Suspense>
        )}
        {tab === 'versions' && <HistoryPanel flowId={flowId} dirty={dirty} onRestored={onRestored} onToast={onToast} nodeTypes={nodeTypeById} />}
        {tab === 'settings' && <TagsField base={base} setBase={setBase} />}
        {tab === 'settings' && <ScenarioSettings base={base} setBase={setBase} problems={nodePanel.problems?.banner} />}
      </div>
    </aside>
  );
}
