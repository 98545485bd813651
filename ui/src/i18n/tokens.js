// UI messages (ru, en): «Токены доступа» — API tokens, their scopes, creation and revocation.
export const tokenMessages = {
  'nav.tokens': { ru: 'Токены доступа', en: 'Access tokens' },

  'tokens.title': { ru: 'Токены доступа', en: 'Access tokens' },
  'tokens.intro': {
    ru: 'Токен даёт сайту, CRM или скрипту доступ к API. Выдавайте каждому только тот доступ, который ему нужен: сайту — «Приём событий».',
    en: 'A token gives a website, CRM or script access to the API. Give each one only the access it needs: a website gets “Event intake”.',
  },
  'tokens.name': { ru: 'Название', en: 'Name' },
  'tokens.namePlaceholder': { ru: 'Например: сайт shop.ru', en: 'For example: shop.example website' },
  'tokens.scope': { ru: 'Доступ', en: 'Access' },
  'tokens.create': { ru: 'Создать токен', en: 'Create token' },
  'tokens.colName': { ru: 'Название', en: 'Name' },
  'tokens.colScope': { ru: 'Доступ', en: 'Access' },
  'tokens.colCreated': { ru: 'Создан', en: 'Created' },
  'tokens.colLastUsed': { ru: 'Последнее использование', en: 'Last used' },
  'tokens.colActions': { ru: 'Действия', en: 'Actions' },
  'tokens.never': { ru: 'ещё не использовался', en: 'never used' },
  'tokens.unnamed': { ru: 'без названия', en: 'unnamed' },
  'tokens.empty': { ru: 'Токенов пока нет', en: 'No tokens yet' },
  'tokens.current': { ru: 'этот токен', en: 'this token' },
  'tokens.currentHint': {
    ru: 'Вы вошли с этим токеном; отозвать его можно только другим токеном с полным доступом.',
    en: 'You are signed in with this token; only another full-access token can revoke it.',
  },
  'tokens.revoke': { ru: 'Отозвать', en: 'Revoke' },
  'tokens.revokeAria': { ru: 'Отозвать токен «{name}»', en: 'Revoke token “{name}”' },
  'tokens.revokeTitle': { ru: 'Отозвать токен?', en: 'Revoke the token?' },
  'tokens.revokeText': {
    ru: 'Токен «{name}» перестанет работать сразу: сайты и интеграции, которые им пользуются, больше не смогут обращаться к API.',
    en: 'Token “{name}” stops working at once: websites and integrations using it can no longer reach the API.',
  },
  'tokens.revoked': { ru: 'Токен отозван', en: 'Token revoked' },
  'tokens.createdTitle': { ru: 'Токен создан', en: 'Token created' },
  'tokens.createdText': {
    ru: 'Скопируйте токен сейчас: после закрытия окна его нельзя будет посмотреть снова.',
    en: 'Copy the token now: once this window is closed it cannot be shown again.',
  },
  'tokens.value': { ru: 'Токен', en: 'Token' },
  'tokens.copy': { ru: 'Скопировать', en: 'Copy' },
  'tokens.copied': { ru: 'Скопировано', en: 'Copied' },
  'tokens.copyFailed': { ru: 'Не удалось скопировать — выделите токен и скопируйте вручную', en: 'Could not copy — select the token and copy it by hand' },
  'tokens.done': { ru: 'Готово', en: 'Done' },

  'scope.ingest': { ru: 'Приём событий (для сайта)', en: 'Event intake (for a website)' },
  'scope.read': { ru: 'Только чтение', en: 'Read only' },
  'scope.admin': { ru: 'Полный доступ', en: 'Full access' },
  'scope.ingestHint': {
    ru: 'Может только отправлять визиты, заказы, клиентов и события. Не видит сценарии и данные.',
    en: 'Can only send visits, orders, clients and events. Cannot see scenarios or data.',
  },
  'scope.readHint': {
    ru: 'Может смотреть сценарии, историю запусков и отчёты, но ничего не меняет.',
    en: 'Can view scenarios, run history and reports, but changes nothing.',
  },
  'scope.adminHint': {
    ru: 'Может всё: менять сценарии, запускать проверки, управлять токенами.',
    en: 'Can do everything: change scenarios, run tests, manage tokens.',
  },
};
