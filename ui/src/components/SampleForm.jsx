// «Заполнить пример по форме»: a few fields per event type (deal, client, visit, event) that make
// the test's data, instead of editing JSON by hand.
import { useState } from 'react';
import { useI18n } from '../i18n.js';
import { SAMPLE_VALUES, sampleContext, sampleGroups } from '../tryout.js';

export function SampleForm({ eventType, onApply }) {
  const { t } = useI18n();
  const [values, setValues] = useState(SAMPLE_VALUES);
  const set = (k) => (e) => setValues((v) => ({ ...v, [k]: e.target.value }));
  return (
    <details className="sample-form" data-testid="sample-form">
      <summary>{t('tryout.form')}</summary>
      {sampleGroups(eventType).map(([group, fields]) => (
        <fieldset key={group} className="sample-group">
          <legend>{t(`tryout.group.${group}`)}</legend>
          {fields.map((k) => (
            <label key={k} className="sample-field">
              <span className="field-label">{t(`tryout.field.${k}`)}</span>
              <input
                className="input"
                type={k === 'email' ? 'email' : 'text'}
                inputMode={k === 'price' ? 'decimal' : undefined}
                value={values[k] ?? ''}
                onChange={set(k)}
                data-testid={`sample-${k}`}
              />
            </label>
          ))}
        </fieldset>
      ))}
      <button type="button" className="btn btn-sm" onClick={() => onApply(sampleContext(eventType, values))} data-testid="sample-apply">
        {t('tryout.formApply')}
      </button>
    </details>
  );
}
