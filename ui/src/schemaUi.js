// Node JSON Schema (Russian titles, English in x-title-en) -> the schema and uiSchema that
// react-jsonschema-form renders, in the chosen language, with our widgets for the x- hints.

const SUBSCHEMA_LISTS = ['anyOf', 'oneOf', 'allOf', 'prefixItems'];
const SUBSCHEMA_ONE = ['items', 'if', 'then', 'else', 'not', 'contains', 'additionalProperties'];
const SUBSCHEMA_MAPS = ['properties', '$defs', 'definitions', 'patternProperties', 'dependentSchemas'];

/** Title/description of a schema node in `lang`, falling back to the other language. */
export function schemaText(node, key, lang) {
  if (!node || typeof node !== 'object') return '';
  const ru = node[key];
  const en = node[`x-${key}-en`];
  return (lang === 'en' ? en || ru : ru || en) || '';
}

/** A deep copy of `schema` whose titles/descriptions are in `lang`; drops $id/$schema so one ajv can hold many. */
export function localizeSchema(schema, lang, optionTitle = (type) => type) {
  const walk = (node, isRoot) => {
    if (Array.isArray(node)) return node.map((n) => walk(n, false));
    if (!node || typeof node !== 'object') return node;
    const out = {};
    for (const [k, v] of Object.entries(node)) {
      if (isRoot && (k === '$id' || k === '$schema')) continue;
      if (SUBSCHEMA_LISTS.includes(k) && Array.isArray(v)) out[k] = v.map((s) => walk(s, false));
      else if (SUBSCHEMA_ONE.includes(k) && v && typeof v === 'object') out[k] = walk(v, false);
      else if (SUBSCHEMA_MAPS.includes(k) && v && typeof v === 'object') {
        out[k] = Object.fromEntries(Object.entries(v).map(([name, s]) => [name, walk(s, false)]));
      } else out[k] = structuredCloneSafe(v);
    }
    const title = schemaText(node, 'title', lang);
    if (title) out.title = title;
    const description = schemaText(node, 'description', lang);
    if (description) out.description = description;
    for (const list of ['anyOf', 'oneOf']) {
      if (!Array.isArray(out[list])) continue;
      out[list] = out[list].map((opt) => (opt && typeof opt === 'object' && !opt.title && opt.type ? { ...opt, title: optionTitle(opt.type) } : opt));
    }
    return out;
  };
  return walk(schema, true);
}

function structuredCloneSafe(v) {
  return v && typeof v === 'object' ? JSON.parse(JSON.stringify(v)) : v;
}

/** uiSchema for one (localized or raw) property schema. */
function propertyUi(prop, lang) {
  const ui = {};
  if (!prop || typeof prop !== 'object') return ui;
  const enumTitles = prop['x-enum-titles'];
  if (enumTitles && Array.isArray(enumTitles[lang] || enumTitles.ru)) ui['ui:enumNames'] = enumTitles[lang] || enumTitles.ru;
  if (prop.items && prop.items['x-enum-titles']) {
    const t = prop.items['x-enum-titles'];
    ui.items = { 'ui:enumNames': t[lang] || t.ru };
    ui['ui:enumNames'] = t[lang] || t.ru;
  }
  const widget = prop['x-widget'];
  if (widget === 'headers') ui['ui:field'] = 'headers';
  else if (widget === 'conditions') ui['ui:field'] = 'conditions';
  else if (widget === 'variants') ui['ui:field'] = 'variants';
  else if (widget === 'hidden') ui['ui:field'] = 'hidden';
  else if (prop['x-secret']) ui['ui:widget'] = 'secret';
  else if (widget === 'html') ui['ui:widget'] = 'html';
  else if (widget === 'status-list' && (prop.anyOf || prop.oneOf)) {
    // «список или через запятую»: one chips editor replaces the list/text choice.
    ui['ui:field'] = 'statusList';
    ui['ui:fieldReplacesAnyOrOneOf'] = true;
  } else if (widget === 'status-list') ui['ui:widget'] = 'statusList';
  else if (widget === 'password') ui['ui:widget'] = 'password';
  else if (widget === 'connection') ui['ui:widget'] = 'connection';
  else if (prop['x-template']) ui['ui:widget'] = 'template';
  else if (widget === 'textarea') ui['ui:widget'] = 'textarea';
  // rjsf draws a "number" (not "integer") as a text box; an amount is typed into a number input
  else if (prop.type === 'number' && !prop.enum) ui['ui:widget'] = 'updown';
  if (widget === 'textarea' || widget === 'html') ui['ui:options'] = { ...(ui['ui:options'] || {}), multiline: true, rows: widget === 'html' ? 10 : 4 };
  if (prop['x-template']) ui['ui:options'] = { ...(ui['ui:options'] || {}), template: true };
  if (!prop['x-secret'] && Array.isArray(prop.examples) && typeof prop.examples[0] === 'string' && !prop.enum) {
    ui['ui:placeholder'] = prop.examples[0];
  }
  if (prop.type === 'object' && prop.properties) Object.assign(ui, objectUi(prop, lang));
  // A choice between shapes («Текст» / «Список»): the option selector already names the shape,
  // so the option's own label is hidden; a list of plain strings is edited as chips.
  for (const key of ['anyOf', 'oneOf']) {
    if (!Array.isArray(prop[key]) || ui['ui:field']) continue;
    ui[key] = prop[key].map((opt) => {
      const o = { ...propertyUi(opt, lang), 'ui:label': false };
      if (opt?.type === 'array' && opt.items?.type === 'string' && !opt.items.enum && !o['ui:widget']) o['ui:widget'] = 'statusList';
      return o;
    });
  }
  return ui;
}

function objectUi(schema, lang) {
  const ui = {};
  for (const [name, prop] of Object.entries(schema.properties || {})) {
    const p = propertyUi(prop, lang);
    if (Object.keys(p).length) ui[name] = p;
  }
  // Properties that only appear under if/then/else or allOf still get their widgets.
  const extra = [];
  for (const key of ['allOf', 'anyOf', 'oneOf']) for (const s of schema[key] || []) extra.push(s, s?.then, s?.else);
  extra.push(schema.then, schema.else);
  for (const s of extra) {
    for (const [name, prop] of Object.entries(s?.properties || {})) {
      if (ui[name] || schema.properties?.[name]) continue;
      const p = propertyUi(prop, lang);
      if (Object.keys(p).length) ui[name] = p;
    }
  }
  return ui;
}

/** { schema, uiSchema } ready for <Form>. The root title is shown by the panel, not the form. */
export function formSchemas(rawSchema, lang, optionTitle) {
  const schema = localizeSchema(rawSchema || { type: 'object' }, lang, optionTitle);
  delete schema.title;
  delete schema.description;
  const uiSchema = {
    ...objectUi(rawSchema || {}, lang),
    'ui:submitButtonOptions': { norender: true },
  };
  return { schema, uiSchema };
}

/** Short one-line summary of a node's params for the canvas card. */
export function paramsSummary(rawSchema, params, lang) {
  if (!params || typeof params !== 'object') return '';
  const props = rawSchema?.properties || {};
  const parts = [];
  for (const [name, prop] of Object.entries(props)) {
    const v = params[name];
    if (v === undefined || v === null || v === '' || prop?.['x-secret'] || prop?.['x-widget'] === 'html') continue;
    if (typeof v === 'object' && !Array.isArray(v)) continue;
    let text;
    if (Array.isArray(prop?.enum) && prop['x-enum-titles']) {
      const i = prop.enum.indexOf(v);
      const titles = prop['x-enum-titles'][lang] || prop['x-enum-titles'].ru;
      text = i >= 0 && titles?.[i] ? titles[i] : String(v);
    } else if (Array.isArray(v)) {
      if (!v.length) continue;
      text = v.join(', ');
    }
    else if (typeof v === 'boolean') continue;
    else text = String(v);
    parts.push(text);
    if (parts.length >= 3) break;
  }
  const s = parts.join(' · ');
  return s.length > 80 ? `${s.slice(0, 79)}…` : s;
}
