// «Метки»: the scenario's tags (the list filters by them), typed comma-separated.
import { useEffect, useId, useState } from 'react';
import { parseTags } from '../flowFilter.js';
import { useI18n } from '../i18n.js';

export function TagsField({ base, setBase }) {
  const { t } = useI18n();
  const id = useId();
  const joined = (base.tags || []).join(', ');
  const [text, setText] = useState(joined);
  useEffect(() => {
    // a reload (save, restore) brings new tags: show them unless they are what is typed
    setText((typed) => (parseTags(typed).join(', ') === joined ? typed : joined));
  }, [joined]);
  const tags = parseTags(text);
  const long = tags.find((tag) => tag.length > 40);
  const error = tags.length > 20 ? t('tags.tooMany') : long ? t('tags.tooLong', { tag: long }) : null;
  const change = (value) => {
    setText(value);
    const next = parseTags(value);
    setBase((b) => {
      const { tags: _old, ...rest } = b;
      return next.length ? { ...rest, tags: next } : rest;
    });
  };
  return (
    <div className="settings-block" data-testid="tags-field">
      <label htmlFor={id} className="field-label">{t('tags.label')}</label>
      <input id={id} className={`input${error ? ' input-invalid' : ''}`} value={text} onChange={(e) => change(e.target.value)} data-testid="flow-tags" />
      {error ? <p className="field-error" role="alert">{error}</p> : <p className="muted small">{t('tags.hint')}</p>}
    </div>
  );
}
