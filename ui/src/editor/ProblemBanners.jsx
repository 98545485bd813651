// Above the canvas: the server's problems with the last save or test run (each node a link that
// selects it), and the nodes whose stored secrets are missing.
import { useCatalog } from '../catalog.js';
import { pick, useI18n } from '../i18n.js';
import { Banner } from '../components/common.jsx';

function countFieldErrors(fields) {
  let n = 0;
  for (const [k, v] of Object.entries(fields || {})) {
    if (k === '__errors') n += v.length;
    else if (v && typeof v === 'object') n += countFieldErrors(v);
  }
  return n;
}

/** "Field title: message" for each field error of a node, for the banner. */
function fieldMessages(fields, def, lang) {
  const out = [];
  const walk = (obj, path) => {
    for (const [k, v] of Object.entries(obj || {})) {
      if (k === '__errors') {
        const prop = def?.schema?.properties?.[path[0]];
        const label = prop ? (lang === 'en' ? prop['x-title-en'] || prop.title : prop.title || prop['x-title-en']) || path.join('.') : path.join('.');
        // the server's messages name their field already («Сумма: нужно число…»)
        for (const m of v) out.push(String(m).startsWith(`${label}:`) ? m : `${label}: ${m}`);
      } else if (v && typeof v === 'object') walk(v, [...path, k]);
    }
  };
  walk(fields, []);
  return out;
}

export function ProblemBanners({ problems, problemTitle, onClose, missingSecrets, nodeTypeById, selectNode }) {
  const { t, lang } = useI18n();
  const catalog = useCatalog();
  const nodeErrorCount =
    Object.values(problems.nodes).reduce((a, p) => a + p.messages.length + countFieldErrors(p.fields), 0) +
    Object.values(problems.edges).reduce((a, l) => a + l.length, 0) +
    problems.banner.length;
  const nodeTitle = (id) => pick(catalog.byType[nodeTypeById[id]]?.title, lang) || id;

  return (
    <>
      {nodeErrorCount > 0 && (
        <Banner onClose={onClose} testId="editor-errors">
          <strong>{problemTitle || t('editor.saveErrors', { count: nodeErrorCount })}</strong>
          <ul className="problem-list">
            {problems.banner.map((b, i) => (
              <li key={`b${i}`} data-path={b.path}>
                {b.path && b.path !== '/' ? <code>{b.path}</code> : null} {b.message}
              </li>
            ))}
            {Object.entries(problems.nodes).map(([id, p]) => (
              <li key={`n${id}`}>
                <button type="button" className="link-btn" onClick={() => selectNode(id)} data-testid={`problem-node-${id}`}>
                  {nodeTitle(id)}
                </button>
                : {[...p.messages, ...fieldMessages(p.fields, catalog.byType[nodeTypeById[id]] || null, lang)].join('; ')}
              </li>
            ))}
            {Object.entries(problems.edges).map(([id, msgs]) => (
              <li key={`e${id}`}>
                {t('editor.edgeErrors')}: {msgs.join('; ')}
              </li>
            ))}
          </ul>
        </Banner>
      )}
      {Object.keys(missingSecrets).length > 0 && (
        <Banner kind="info" testId="missing-secrets">
          {t('editor.missingSecrets')}{' '}
          {Object.keys(missingSecrets).map((id, i) => (
            <span key={id}>
              {i > 0 && ', '}
              <button type="button" className="link-btn" onClick={() => selectNode(id)}>
                {nodeTitle(id)}
              </button>
            </span>
          ))}
        </Banner>
      )}
    </>
  );
}
