// What changed between two versions (the server's change list, plugin/engine/versions.py) as
// lines a marketer reads: node titles from the catalog, param titles from the node's schema.
import { pick } from './i18n.js';

const MAX_VALUE = 60;
const NODE_FIELDS = ['type', 'name', 'disabled'];

/** A node's human name: its type's title, with its id when the id says more. */
export function nodeLabel(byType, type, id, lang) {
  const title = pick(byType?.[type]?.title, lang);
  if (!title) return id;
  return id && !/^n?\d+$/.test(id) && id !== type ? `${title} (${id})` : title;
}

/** A changed field's title: "params.value" → the schema's title of "value". */
export function fieldLabel(byType, type, name, lang, t) {
  if (!name.startsWith('params.')) return NODE_FIELDS.includes(name) ? t(`change.fieldName.${name}`) : name;
  const key = name.slice('params.'.length);
  const prop = byType?.[type]?.schema?.properties?.[key];
  if (!prop) return key;
  return (lang === 'en' ? prop['x-title-en'] : prop.title) || prop.title || key;
}

/** A value as short text: strings as they are, the rest as JSON, long ones cut. */
export function valueText(value, t) {
  if (value === undefined || value === null || value === '' || (Array.isArray(value) && !value.length)) return t('change.empty');
  const s = typeof value === 'string' ? value : JSON.stringify(value);
  return s.length > MAX_VALUE ? `${s.slice(0, MAX_VALUE)}…` : s;
}

/** One change → { text, details: [lines] }. */
export function describeChange(change, { byType, lang, t, nodeTypes = {} }) {
  const label = (id, type) => nodeLabel(byType, type || nodeTypes[id], id, lang);
  switch (change.kind) {
    case 'name':
      return { text: t('change.name', { from: change.from, to: change.to }), details: [] };
    case 'node_added':
    case 'node_removed':
    case 'node_moved':
      return { text: t(`change.${change.kind}`, { node: label(change.node, change.type) }), details: [] };
    case 'node_changed':
      return {
        text: t('change.node_changed', { node: label(change.node, change.type) }),
        details: (change.fields || []).map((f) =>
          t('change.field', {
            field: fieldLabel(byType, change.type, f.name, lang, t),
            from: valueText(f.from, t),
            to: valueText(f.to, t),
          }),
        ),
      };
    case 'edge_added':
    case 'edge_removed': {
      const text = t(`change.${change.kind}`, { from: label(change.from), to: label(change.to) });
      return { text: change.branch === 'false' ? `${text} ${t('change.branchFalse')}` : text, details: [] };
    }
    case 'tags':
      return { text: t('change.tags', { from: valueText((change.from || []).join(', '), t), to: valueText((change.to || []).join(', '), t) }), details: [] };
    case 'created':
    case 'settings':
    case 'description':
      return { text: t(`change.${change.kind}`), details: [] };
    default:
      return { text: change.kind, details: [] };
  }
}
