// UI messages (ru, en): «Формы сайта», the site-form sources, and the main navigation.
export const formMessages = {
  'nav.main': { ru: 'Разделы', en: 'Sections' },
  'nav.flows': { ru: 'Сценарии', en: 'Scenarios' },
  'nav.forms': { ru: 'Формы сайта', en: 'Site forms' },

  'forms.title': { ru: 'Формы сайта', en: 'Site forms' },
  'forms.intro': {
    ru: 'Заявка с формы сайта (Tilda, Битрикс24, обычная HTML-форма) становится пользовательским событием с этим названием, а поля формы — его данными. Телефон, email и имя из формы заполняют клиента.',
    en: 'A site form’s submission (Tilda, Bitrix24, a plain HTML form) becomes a custom event of this name, with the form’s fields as its data. The form’s phone, email and name fill the client.',
  },
  'forms.name': { ru: 'Название события', en: 'Event name' },
  'forms.namePlaceholder': { ru: 'например, tilda_lead', en: 'e.g. tilda_lead' },
  'forms.create': { ru: 'Создать', en: 'Create' },
  'forms.created': { ru: 'Источник «{name}» создан', en: 'Source “{name}” created' },
  'forms.deleted': { ru: 'Источник удалён', en: 'Source deleted' },
  'forms.colName': { ru: 'Событие', en: 'Event' },
  'forms.colUrl': { ru: 'Адрес для формы (webhook)', en: 'Form URL (webhook)' },
  'forms.colLast': { ru: 'Последняя заявка', en: 'Last submission' },
  'forms.never': { ru: 'ещё не было', en: 'none yet' },
  'forms.noKey': { ru: 'ключ недоступен (сменился AUTOMATION_SECRET_KEY)', en: 'key unavailable (AUTOMATION_SECRET_KEY changed)' },
  'forms.copy': { ru: 'Копировать', en: 'Copy' },
  'forms.copyAria': { ru: 'Копировать адрес источника «{name}»', en: 'Copy the URL of source “{name}”' },
  'forms.copied': { ru: 'Адрес скопирован', en: 'URL copied' },
  'forms.copyFailed': { ru: 'Не удалось скопировать: выделите адрес и скопируйте вручную', en: 'Could not copy: select the URL and copy it by hand' },
  'forms.deleteAria': { ru: 'Удалить источник «{name}»', en: 'Delete source “{name}”' },
  'forms.deleteTitle': { ru: 'Удалить источник?', en: 'Delete the source?' },
  'forms.deleteText': {
    ru: 'Формы, отправляющие заявки на адрес источника «{name}», перестанут работать. Уже полученные события останутся.',
    en: 'Forms posting to the URL of source “{name}” will stop working. Events already received stay.',
  },
  'forms.empty': { ru: 'Источников пока нет', en: 'No sources yet' },
  'forms.howTitle': { ru: 'Как подключить', en: 'How to connect' },
  'forms.tildaTitle': { ru: 'Tilda', en: 'Tilda' },
  'forms.tilda1': { ru: 'Скопируйте адрес источника.', en: 'Copy the source’s URL.' },
  'forms.tilda2': {
    ru: 'В Tilda: «Настройки сайта → Формы → Webhook», вставьте адрес и нажмите «Добавить». Tilda отправит тестовый запрос — в колонке «Последняя заявка» появится время.',
    en: 'In Tilda: “Site settings → Forms → Webhook”, paste the URL and press “Add”. Tilda sends a test request — the “Last submission” column then shows its time.',
  },
  'forms.tilda3': {
    ru: 'В блоке формы: «Контент → Принимающие сервисы» — отметьте этот webhook.',
    en: 'In the form block: “Content → Receiving services” — tick this webhook.',
  },
  'forms.htmlTitle': { ru: 'Обычная HTML-форма', en: 'A plain HTML form' },
  'forms.htmlText': {
    ru: 'Укажите адрес в action формы. Поля phone/телефон, email/почта, name/имя заполнят клиента; остальные поля попадут в данные события.',
    en: 'Put the URL in the form’s action. The phone, email and name fields fill the client; every other field goes into the event’s data.',
  },
  'forms.scenarioHint': {
    ru: 'Затем создайте сценарий с событием «Пользовательское событие» и этим названием.',
    en: 'Then create a scenario on the “Custom event” event with this name.',
  },
};
