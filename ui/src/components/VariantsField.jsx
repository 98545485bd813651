// The A/B split's variants (x-widget variants): a row per variant — its name (the branch its edges
// take), its weight and its live share of the sum — with add and remove within the schema's 2–5.
import { useI18n } from '../i18n.js';

const LETTERS = ['A', 'B', 'C', 'D', 'E', 'F'];

/** Each variant's share of the sum of the (positive) weights, in whole percent (one decimal under 10 %). */
export function shares(variants) {
  const weights = (variants || []).map((v) => (Number(v?.weight) > 0 ? Number(v.weight) : 0));
  const sum = weights.reduce((a, b) => a + b, 0);
  return weights.map((w) => {
    if (!sum) return '—';
    const p = (w / sum) * 100;
    return `${p < 10 && p !== Math.round(p) ? p.toFixed(1) : Math.round(p)} %`;
  });
}

/** A key not used by any variant: the next letter, else «V<n>». */
export function freshKey(variants) {
  const used = new Set((variants || []).map((v) => v?.key));
  return LETTERS.find((k) => !used.has(k)) ?? `V${(variants || []).length + 1}`;
}

function errorsAt(errorSchema, i, name) {
  return errorSchema?.[i]?.[name]?.__errors || [];
}

export function VariantsField({ fieldPathId, formData, onChange, schema, errorSchema, disabled, readonly }) {
  const { t, lang } = useI18n();
  const rows = Array.isArray(formData) ? formData : [];
  const path = fieldPathId?.path ?? ['variants'];
  const id = fieldPathId?.$id || 'root_variants';
  const min = schema?.minItems ?? 2;
  const max = schema?.maxItems ?? 5;
  const emit = (next) => onChange(next, path);
  const update = (i, patch) => emit(rows.map((row, j) => (j === i ? { ...row, ...patch } : row)));
  const sum = rows.reduce((a, v) => a + (Number(v?.weight) > 0 ? Number(v.weight) : 0), 0);
  const percent = shares(rows);
  const title = (lang === 'en' && schema?.['x-title-en']) || schema?.title || t('split.key');
  const own = errorSchema?.__errors || [];

  return (
    <fieldset className="variants-field" id={id} data-testid="variants">
      <legend className="control-label">{title}</legend>
      <table className="variants-table">
        <thead>
          <tr>
            <th scope="col">{t('split.key')}</th>
            <th scope="col">{t('split.weight')}</th>
            <th scope="col">{t('split.share')}</th>
            <th aria-hidden="true" />
          </tr>
        </thead>
        <tbody>
          {rows.map((row, i) => {
            const errors = [...errorsAt(errorSchema, i, 'key'), ...errorsAt(errorSchema, i, 'weight')];
            return (
              <tr key={i} data-testid={`variant-${i}`}>
                <td>
                  <input
                    className={`input input-sm${errorsAt(errorSchema, i, 'key').length ? ' input-error' : ''}`}
                    aria-label={`${t('split.key')} ${i + 1}`}
                    value={row?.key ?? ''}
                    disabled={disabled}
                    readOnly={readonly}
                    maxLength={40}
                    onChange={(e) => update(i, { key: e.target.value })}
                    data-testid={`variant-${i}-key`}
                  />
                </td>
                <td>
                  <input
                    type="number"
                    min="0"
                    step="any"
                    className={`input input-sm${errorsAt(errorSchema, i, 'weight').length ? ' input-error' : ''}`}
                    aria-label={`${t('split.weight')} ${row?.key ?? i + 1}`}
                    value={row?.weight ?? ''}
                    disabled={disabled}
                    readOnly={readonly}
                    onChange={(e) => update(i, { weight: e.target.value === '' ? undefined : Number(e.target.value) })}
                    data-testid={`variant-${i}-weight`}
                  />
                </td>
                <td className="variant-share" data-testid={`variant-${i}-share`}>
                  {percent[i]}
                </td>
                <td>
                  {rows.length > min && !readonly && (
                    <button
                      type="button"
                      className="icon-btn icon-btn-sm"
                      aria-label={t('split.remove', { key: row?.key ?? i + 1 })}
                      disabled={disabled}
                      onClick={() => emit(rows.filter((_, j) => j !== i))}
                      data-testid={`variant-${i}-remove`}
                    >
                      ×
                    </button>
                  )}
                  {errors.length > 0 && (
                    <span className="field-error small" role="alert">
                      {errors.join('; ')}
                    </span>
                  )}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
      <div className="variants-foot">
        <span className="muted small" data-testid="variants-sum">
          {t('split.total', { sum: Number.isFinite(sum) ? sum : 0 })}
        </span>
        {rows.length < max && !readonly && (
          <button
            type="button"
            className="btn btn-sm btn-link"
            disabled={disabled}
            onClick={() => emit([...rows, { key: freshKey(rows), weight: rows.length ? Number(rows[rows.length - 1]?.weight) || 1 : 50 }])}
            data-testid="variant-add"
          >
            {t('split.add')}
          </button>
        )}
      </div>
      {own.length > 0 && (
        <p className="field-error small" role="alert">
          {own.join('; ')}
        </p>
      )}
    </fieldset>
  );
}
