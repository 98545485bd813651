// The condition group's list (x-widget conditions): each item a condition type and its params,
// edited with that type's own schema-driven form; an inner group is the same form again, one level
// deeper (three at most, as the server checks: plugin/engine/node_checks.py).
import Form from '@rjsf/core';
import { useMemo } from 'react';
import { useCatalog } from '../catalog.js';
import { pick, rjsfTranslator, useI18n } from '../i18n.js';
import { formSchemas } from '../schemaUi.js';
import { DEFAULTS_BEHAVIOR, defaultParams, validator } from '../validator.js';
import { localizeErrors } from './fieldChecks.js';

export const GROUP_TYPE = 'condition.group';
export const MAX_DEPTH = 3;

/** The condition types an item at `depth` may take: every condition, a group only above the limit. */
export function itemTypes(nodes, depth) {
  return nodes.filter((n) => n.kind === 'condition' && (n.type !== GROUP_TYPE || depth < MAX_DEPTH));
}

function ItemForm({ idPrefix, def, params, depth, errors, registry, onChange }) {
  const { lang } = useI18n();
  const { schema, uiSchema } = useMemo(() => formSchemas(def.schema, lang), [def, lang]);
  const translateString = useMemo(() => rjsfTranslator(lang), [lang]);
  const transformErrors = useMemo(() => (list) => localizeErrors(list, schema, lang), [schema, lang]);
  return (
    <Form
      tagName="div"
      idPrefix={idPrefix}
      className="node-form group-item-form"
      schema={schema}
      uiSchema={uiSchema}
      formData={params}
      formContext={{ params: params || {}, depth }}
      validator={validator}
      widgets={registry?.widgets}
      fields={registry?.fields}
      experimental_defaultFormStateBehavior={DEFAULTS_BEHAVIOR}
      extraErrors={errors}
      showErrorList={false}
      liveValidate="onChange"
      transformErrors={transformErrors}
      noHtml5Validate
      translateString={translateString}
      onChange={(e) => onChange(e.formData ?? {})}
      onSubmit={() => {}}
    />
  );
}

export function ConditionListField({ fieldPathId, formData, onChange, schema, errorSchema, registry, disabled, readonly }) {
  const { t, lang } = useI18n();
  const catalog = useCatalog();
  const depth = registry?.formContext?.depth ?? 1;
  const items = Array.isArray(formData) ? formData : [];
  const path = fieldPathId?.path ?? ['conditions'];
  const id = fieldPathId?.$id || 'root_conditions';
  const types = itemTypes(catalog.nodes || [], depth);
  const emit = (next) => onChange(next, path);
  const setItem = (i, item) => emit(items.map((it, j) => (j === i ? item : it)));
  const title = (lang === 'en' && schema?.['x-title-en']) || schema?.title || '';
  const own = errorSchema?.__errors || [];

  return (
    <fieldset className={`condition-list depth-${depth}`} id={id} data-testid={`conditions-${depth}`}>
      <legend className="control-label">{title}</legend>
      {items.length === 0 && <p className="muted small">{t('group.empty')}</p>}
      <ol className="condition-items">
        {items.map((item, i) => {
          const def = catalog.byType?.[item?.type];
          const itemErrors = errorSchema?.[i] || {};
          return (
            <li key={`${i}:${item?.type}`} className="condition-item" data-testid={`condition-${depth}-${i}`}>
              <div className="condition-item-head">
                <label className="visually-hidden" htmlFor={`${id}_${i}_type`}>
                  {t('group.type')}
                </label>
                <select
                  id={`${id}_${i}_type`}
                  className="input input-sm"
                  value={item?.type ?? ''}
                  disabled={disabled || readonly}
                  onChange={(e) => {
                    const next = catalog.byType?.[e.target.value];
                    setItem(i, { type: e.target.value, params: defaultParams(next?.schema) });
                  }}
                  data-testid={`condition-${depth}-${i}-type`}
                >
                  {!def && <option value={item?.type ?? ''}>{item?.type || t('group.choose')}</option>}
                  {types.map((n) => (
                    <option key={n.type} value={n.type}>
                      {pick(n.title, lang)}
                    </option>
                  ))}
                </select>
                {!readonly && (
                  <button
                    type="button"
                    className="icon-btn icon-btn-sm"
                    aria-label={t('group.remove', { n: i + 1 })}
                    disabled={disabled}
                    onClick={() => emit(items.filter((_, j) => j !== i))}
                    data-testid={`condition-${depth}-${i}-remove`}
                  >
                    ×
                  </button>
                )}
              </div>
              {(itemErrors.type?.__errors || []).map((m, k) => (
                <p key={k} className="field-error small" role="alert">
                  {m}
                </p>
              ))}
              {def && (
                <ItemForm
                  idPrefix={`${id}_${i}`}
                  def={def}
                  params={item.params}
                  depth={item.type === GROUP_TYPE ? depth + 1 : depth}
                  errors={itemErrors.params}
                  registry={registry}
                  onChange={(params) => setItem(i, { ...item, params })}
                />
              )}
            </li>
          );
        })}
      </ol>
      {!readonly && (
        <select
          className="input input-sm condition-add"
          aria-label={t('group.add')}
          value=""
          disabled={disabled}
          onChange={(e) => {
            const def = catalog.byType?.[e.target.value];
            if (def) emit([...items, { type: def.type, params: defaultParams(def.schema) }]);
          }}
          data-testid={`condition-${depth}-add`}
        >
          <option value="">{t('group.add')}</option>
          {types.map((n) => (
            <option key={n.type} value={n.type}>
              {pick(n.title, lang)}
            </option>
          ))}
        </select>
      )}
      {depth >= MAX_DEPTH && <p className="muted small">{t('group.depthLimit')}</p>}
      {own.length > 0 && (
        <p className="field-error small" role="alert">
          {own.join('; ')}
        </p>
      )}
    </fieldset>
  );
}
