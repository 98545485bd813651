// The one message catalog of the UI: every key has "ru" (default) and "en". The texts are in
// i18n/*.js by part of the UI; this module merges them and translates.
import { createContext, useContext } from 'react';
import { appMessages } from './i18n/app.js';
import { tryoutMessages } from './i18n/tryout.js';
import { editorMessages } from './i18n/editor.js';
import { formMessages } from './i18n/forms.js';
import { panelMessages } from './i18n/panels.js';
import { optoutMessages } from './i18n/optout.js';
import { rjsfRu } from './i18n/rjsf.js';
import { settingsMessages } from './i18n/settings.js';
import { journeyMessages } from './i18n/journeys.js';
import { tokenMessages } from './i18n/tokens.js';
import { connectionMessages } from './i18n/connections.js';
import { errorMessages } from './i18n/errors.js';
import { summaryMessages } from './i18n/summaries.js';
import { historyMessages } from './i18n/history.js';
import { listMessages } from './i18n/lists.js';
import { versionMessages } from './i18n/versions.js';

export const LANGS = ['ru', 'en'];
export const DEFAULT_LANG = 'ru';

export const messages = {
  ...appMessages,
  ...tryoutMessages,
  ...editorMessages,
  ...panelMessages,
  ...formMessages,
  ...tokenMessages,
  ...connectionMessages,
  ...optoutMessages,
  ...settingsMessages,
  ...journeyMessages,
  ...errorMessages,
  ...summaryMessages,
  ...historyMessages,
  ...listMessages,
  ...versionMessages,
};

/** rjsf's translateString for `lang`. */
export function rjsfTranslator(lang) {
  return (str, params) => {
    let s = lang === 'ru' && rjsfRu[str] ? rjsfRu[str] : str;
    (params || []).forEach((p, i) => {
      s = s.replaceAll(`%${i + 1}`, p);
    });
    return s;
  };
}

/** The message `key` in `lang` with `{name}` placeholders filled from `vars`. */
export function translate(lang, key, vars) {
  const entry = messages[key];
  let s = entry ? entry[lang] ?? entry[DEFAULT_LANG] : key;
  if (vars) s = s.replace(/\{(\w+)\}/g, (m, name) => (vars[name] !== undefined && vars[name] !== null ? String(vars[name]) : m));
  return s;
}

/** A status word ("succeeded", "would_send", ...) in `lang`; unknown ones are shown as they are. */
export function statusLabel(lang, status) {
  return messages[`status.${status}`] ? translate(lang, `status.${status}`) : String(status ?? '');
}

/** Picks the ru/en variant of a {"ru","en"} object from the API. */
export function pick(obj, lang) {
  if (!obj) return '';
  if (typeof obj === 'string') return obj;
  return obj[lang] || obj[DEFAULT_LANG] || obj.en || '';
}

export const I18nContext = createContext({ lang: DEFAULT_LANG, t: (k, v) => translate(DEFAULT_LANG, k, v), setLang: () => {} });

export function useI18n() {
  return useContext(I18nContext);
}
