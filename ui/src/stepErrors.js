// A run step's error in the UI's language. The server stores it in English (the run history is
// an API too); the usual ones are recognised here and said in Russian, the rest shown as stored.
import { translate } from './i18n.js';

const RULES = [
  [/^(\S+): HTTP (\d{3}) from (\S+)/, 'runError.httpStatus', ['service', 'status', 'host']],
  [/^(\S+): timed out connecting to (\S+)/, 'runError.connectTimeout', ['service', 'host']],
  [/^(\S+): timed out talking to (\S+)/, 'runError.readTimeout', ['service', 'host']],
  [/^(\S+): cannot connect to (\S+)/, 'runError.cannotConnect', ['service', 'host']],
  [/^(\S+): request to (\S+) failed/, 'runError.requestFailed', ['service', 'host']],
  [/^(\S+): redirect not followed \(HTTP (\d+)\)/, 'runError.redirect', ['service', 'status']],
  [/^(\S+) resolves to (\S+), .*AUTOMATION_OUTBOUND_ALLOWLIST/, 'runError.blockedResolved', ['host', 'ip']],
  [/^(\S+) is .*; add it to AUTOMATION_OUTBOUND_ALLOWLIST/, 'runError.blocked', ['host']],
  [/^receiver unavailable: (\S+)/, 'runError.unavailable', ['dest']],
  [/^template error: (.*)$/s, 'runError.template', ['detail']],
  [/^the connection '(.*)' no longer exists/, 'runError.connectionGone', ['name']],
  [/^internal error/, 'runError.internal', []],
  [/^email: cannot resolve (\S+)/, 'runError.emailResolve', ['host']],
  [/^email: cannot reach (\S+?):?\d*:/, 'runError.emailReach', ['host']],
];
// «у клиента нет email (client has no email)»: the engine's own Russian, its English aside dropped
const RUSSIAN_FIRST = /^([А-Яа-яЁё][^()]*?)\s*\([^()]*[A-Za-z][^()]*\)\s*$/;
const GAVE_UP = /^(.*) \(unavailable for ([\d.]+) h: gave up\)$/s;

/** `error` (as stored on a run step) in `lang`. */
export function stepErrorText(error, lang) {
  const text = String(error ?? '');
  if (lang === 'en' || !text) return text;
  const gaveUp = GAVE_UP.exec(text);
  if (gaveUp) return translate(lang, 'runError.gaveUp', { message: stepErrorText(gaveUp[1], lang), hours: gaveUp[2] });
  for (const [pattern, key, names] of RULES) {
    const m = pattern.exec(text);
    if (m) return translate(lang, key, Object.fromEntries(names.map((n, i) => [n, m[i + 1]])));
  }
  const russian = RUSSIAN_FIRST.exec(text);
  return russian ? russian[1] : text;
}
