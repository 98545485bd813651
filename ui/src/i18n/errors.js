// UI messages (ru, en): run-step errors. The engine stores them in English (plugin/transport,
// plugin/nodes); src/stepErrors.js recognises the usual ones and says them in Russian.
export const errorMessages = {
  'runError.httpStatus': { ru: '{service}: {host} ответил ошибкой HTTP {status}', en: '{service}: HTTP {status} from {host}' },
  'runError.connectTimeout': { ru: '{service}: {host} не ответил на подключение вовремя', en: '{service}: timed out connecting to {host}' },
  'runError.readTimeout': { ru: '{service}: {host} не ответил вовремя', en: '{service}: timed out talking to {host}' },
  'runError.cannotConnect': { ru: '{service}: не удалось подключиться к {host}', en: '{service}: cannot connect to {host}' },
  'runError.requestFailed': { ru: '{service}: запрос к {host} не удался', en: '{service}: request to {host} failed' },
  'runError.redirect': { ru: '{service}: перенаправление не выполнено (HTTP {status})', en: '{service}: redirect not followed (HTTP {status})' },
  'runError.blocked': {
    ru: 'Отправка на {host} запрещена: это внутренний адрес. Разрешить можно в AUTOMATION_OUTBOUND_ALLOWLIST',
    en: '{host} is blocked; add it to AUTOMATION_OUTBOUND_ALLOWLIST to allow it',
  },
  'runError.blockedResolved': {
    ru: 'Отправка на {host} запрещена: он ведёт на внутренний адрес {ip}. Разрешить можно в AUTOMATION_OUTBOUND_ALLOWLIST',
    en: '{host} resolves to {ip}; add it to AUTOMATION_OUTBOUND_ALLOWLIST to allow it',
  },
  'runError.unavailable': { ru: 'Получатель {dest} недоступен; следующая попытка позже', en: 'receiver unavailable: {dest}' },
  'runError.gaveUp': { ru: '{message} (недоступен {hours} ч — попытки прекращены)', en: '{message} (unavailable for {hours} h: gave up)' },
  'runError.template': { ru: 'Ошибка в шаблоне: {detail}', en: 'template error: {detail}' },
  'runError.connectionGone': { ru: 'Подключения «{name}» больше нет — выберите другое', en: 'the connection {name} no longer exists' },
  'runError.internal': { ru: 'Внутренняя ошибка сервера (записана в журнал)', en: 'internal error' },
  'runError.emailResolve': { ru: 'email: не удалось найти почтовый сервер {host}', en: 'email: cannot resolve {host}' },
  'runError.emailReach': { ru: 'email: не удалось подключиться к почтовому серверу {host}', en: 'email: cannot reach {host}' },
};
