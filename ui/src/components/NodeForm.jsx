// The right-panel form of the selected node, generated from its JSON Schema by rjsf; checked while typing
// (fieldChecks.js), with the server's errors of the last save beside the fields too.
import { useEffect, useMemo, useRef } from 'react';
import Form from '@rjsf/core';
import { rjsfTranslator, useI18n } from '../i18n.js';
import { useHookNames, withEventNames } from '../hookNames.js';
import { formSchemas } from '../schemaUi.js';
import { DEFAULTS_BEHAVIOR, validator } from '../validator.js';
import { fields, widgets } from './widgets.jsx';
import { connectionFields, withoutConnectionFields } from './ConnectionPicker.jsx';
import { localizeErrors } from './fieldChecks.js';

export function NodeForm({ node, def, fieldErrors, missingSecrets, onChange, onBlur }) {
  const { t, lang } = useI18n();
  const optionTitle = (type) => {
    const key = `form.option${String(type).charAt(0).toUpperCase()}${String(type).slice(1)}`;
    const s = t(key);
    return s === key ? String(type) : s;
  };
  const isCustom = def?.type === 'event.custom';
  const hookNames = useHookNames(isCustom);
  const { schema, uiSchema } = useMemo(() => {
    const out = formSchemas(def?.schema, lang, optionTitle);
    if (isCustom) out.schema = withEventNames(out.schema, hookNames);
    // A chosen connection gives the access fields: they are hidden and left out of the params.
    if (node.data.params?.connection) {
      for (const field of connectionFields(def?.schema)) out.uiSchema[field] = { 'ui:field': 'hidden' };
    }
    for (const field of hiddenFields(def?.schema, node.data.params)) out.uiSchema[field] = { 'ui:field': 'hidden' };
    // Imported secrets come back as the placeholder with nothing stored behind it: not «задано».
    for (const field of missingSecrets || []) {
      const ui = (out.uiSchema[field] ||= {});
      ui['ui:options'] = { ...(ui['ui:options'] || {}), secretMissing: true };
    }
    return out;
  }, [def, lang, missingSecrets, isCustom, hookNames, Boolean(node.data.params?.connection), node.data.params?.event]); // eslint-disable-line react-hooks/exhaustive-deps
  const translateString = useMemo(() => rjsfTranslator(lang), [lang]);
  const transformErrors = useMemo(() => (errors) => localizeErrors(errors, schema, lang), [schema, lang]);
  const hasFields = Object.keys(schema.properties || {}).length > 0 || schema.additionalProperties;
  // the server's errors of a save: bring the first field they name into view (the panel scrolls)
  const box = useRef(null);
  useEffect(() => {
    if (!fieldErrors || !Object.keys(fieldErrors).length) return;
    requestAnimationFrame(() =>
      box.current?.querySelector('.has-error, [id$="__error"]')?.scrollIntoView({ block: 'nearest' }),
    );
  }, [fieldErrors]);

  if (!def) return null;
  if (!hasFields) return <p className="muted">{t('panel.noParams')}</p>;
  return (
    <div ref={box}>
      <Form
        className="node-form"
        schema={schema}
        uiSchema={uiSchema}
        formData={node.data.params}
        formContext={{ params: node.data.params || {} }}
        validator={validator}
        widgets={widgets}
        fields={fields}
        experimental_defaultFormStateBehavior={DEFAULTS_BEHAVIOR}
        extraErrors={fieldErrors}
        showErrorList={false}
        liveValidate="onChange"
        transformErrors={transformErrors}
        noHtml5Validate
        translateString={translateString}
        onChange={(e) => onChange(withoutHidden(def?.schema, withoutConnectionFields(def?.schema, e.formData ?? {})))}
        onBlur={() => onBlur?.()}
        onSubmit={() => {}}
      />
    </div>
  );
}

/** The fields shown only for some values of another (`x-show-when`, e.g. the wait node's status
 * fields for a status change) that `params` hide. */
function hiddenFields(schema, params) {
  const props = schema?.properties || {};
  const value = (k) => params?.[k] ?? props[k]?.default;
  return Object.keys(props).filter((f) => {
    const when = props[f]['x-show-when'];
    return when && !Object.entries(when).every(([k, values]) => values.includes(value(k)));
  });
}

/** `params` without the values of the fields they hide (a status left over from another event kind). */
function withoutHidden(schema, params) {
  const hidden = hiddenFields(schema, params);
  return hidden.length ? Object.fromEntries(Object.entries(params).filter(([k]) => !hidden.includes(k))) : params;
}
