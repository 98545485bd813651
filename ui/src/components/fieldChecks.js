// Checks while typing (issue #18): the node form's own schema validation (validator.js), told in the
// marketer's language at the field. Required fields are left to the save (a fresh node is not a wall
// of red), and a choice between shapes (anyOf) is one message, not one per shape.
import { translate } from '../i18n.js';

/** The value at JSON pointer `location` ("#/properties/value/minimum") inside `schema`. */
export function atPointer(schema, location) {
  const parts = String(location || '').replace(/^#\/?/, '').split('/').filter(Boolean);
  let node = schema;
  for (const raw of parts) {
    if (node === null || typeof node !== 'object') return undefined;
    node = node[decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~')];
  }
  return node;
}

const LIMITS = ['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'minLength', 'maxLength', 'minItems', 'maxItems'];

function keyFor(name, expected) {
  if (name === 'type') return [].concat(expected).some((t) => t === 'number' || t === 'integer') ? 'check.number' : 'check.type';
  if (name === 'format') return ['uri', 'email'].includes(expected) ? `check.format.${expected}` : 'check.invalid';
  if (name === 'pattern') return expected === '^https?://' ? 'check.url' : 'check.pattern';
  if (LIMITS.includes(name)) return `check.${name}`;
  if (name === 'enum' || name === 'const') return 'check.enum';
  return 'check.invalid';
}

/** rjsf's transformErrors for a form of `schema` in `lang`. */
export function localizeErrors(errors, schema, lang) {
  const seen = new Set();
  const out = [];
  for (const e of errors) {
    if (e.name === 'required' || /\/(anyOf|oneOf)\/\d+\//.test(e.schemaPath || '')) continue;
    const expected = atPointer(schema, e.schemaPath);
    const message = translate(lang, keyFor(e.name, expected), { n: expected });
    const key = `${e.property}|${message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ ...e, message, stack: `${e.property} ${message}`.trim() });
  }
  return out;
}
