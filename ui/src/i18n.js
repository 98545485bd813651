// The one message catalog of the UI: every key has "ru" (default) and "en".
import { createContext, useContext } from 'react';

export const LANGS = ['ru', 'en'];
export const DEFAULT_LANG = 'ru';

export const messages = {
  'app.title': { ru: 'Автоматизация маркетинга', en: 'Marketing automation' },
  'app.flows': { ru: 'Сценарии', en: 'Scenarios' },
  'app.language': { ru: 'Язык интерфейса', en: 'Interface language' },
  'app.logout': { ru: 'Выйти', en: 'Log out' },
  'app.loading': { ru: 'Загрузка…', en: 'Loading…' },
  'app.skipToContent': { ru: 'Перейти к содержимому', en: 'Skip to content' },

  'login.title': { ru: 'Вход', en: 'Sign in' },
  'login.text': {
    ru: 'Введите токен доступа. Его печатает команда запуска сервера (ссылка вида /?token=…) или создаёт «python server.py token create».',
    en: 'Enter an access token. The server start command prints it (a link like /?token=…), or create one with “python server.py token create”.',
  },
  'login.token': { ru: 'Токен', en: 'Token' },
  'login.submit': { ru: 'Войти', en: 'Sign in' },
  'login.expired': { ru: 'Токен не подошёл или сессия истекла. Войдите снова.', en: 'The token was rejected or the session expired. Sign in again.' },

  'common.save': { ru: 'Сохранить', en: 'Save' },
  'common.cancel': { ru: 'Отменить', en: 'Cancel' },
  'common.close': { ru: 'Закрыть', en: 'Close' },
  'common.delete': { ru: 'Удалить', en: 'Delete' },
  'common.confirm': { ru: 'Подтвердить', en: 'Confirm' },
  'common.yes': { ru: 'да', en: 'yes' },
  'common.no': { ru: 'нет', en: 'no' },
  'common.error': { ru: 'Ошибка', en: 'Error' },
  'common.networkError': { ru: 'Сервер недоступен: {message}', en: 'The server is unreachable: {message}' },
  'common.requestFailed': { ru: 'Запрос не выполнен (HTTP {status})', en: 'The request failed (HTTP {status})' },
  'common.loadMore': { ru: 'Показать ещё', en: 'Show more' },
  'common.refresh': { ru: 'Обновить', en: 'Refresh' },
  'common.dismiss': { ru: 'Скрыть сообщение', en: 'Dismiss message' },

  'list.tabScenarios': { ru: 'Сценарии', en: 'Scenarios' },
  'list.add': { ru: '+ Добавить сценарий', en: '+ Add scenario' },
  'list.import': { ru: 'Импорт', en: 'Import' },
  'list.colStatus': { ru: 'Статус', en: 'Status' },
  'list.colName': { ru: 'Сценарии', en: 'Scenarios' },
  'list.colTriggered': { ru: 'Срабатываний', en: 'Triggered' },
  'list.colActions': { ru: 'Действия', en: 'Actions' },
  'list.empty': { ru: 'Нет данных', en: 'No data' },
  'list.export': { ru: 'Экспорт', en: 'Export' },
  'list.exportAria': { ru: 'Экспортировать сценарий «{name}»', en: 'Export scenario “{name}”' },
  'list.deleteAria': { ru: 'Удалить сценарий «{name}»', en: 'Delete scenario “{name}”' },
  'list.toggleAria': { ru: 'Включить сценарий «{name}»', en: 'Enable scenario “{name}”' },
  'list.openAria': { ru: 'Открыть сценарий «{name}»', en: 'Open scenario “{name}”' },
  'list.deleteTitle': { ru: 'Удалить сценарий?', en: 'Delete the scenario?' },
  'list.deleteText': { ru: 'Сценарий «{name}» и история его запусков будут удалены.', en: 'Scenario “{name}” and its run history will be deleted.' },
  'list.failed': { ru: 'ошибок: {count}', en: 'failed: {count}' },
  'list.lastTriggered': { ru: 'Последнее срабатывание: {time}', en: 'Last triggered: {time}' },
  'list.deleted': { ru: 'Сценарий удалён', en: 'Scenario deleted' },
  'list.imported': { ru: 'Импортировано сценариев: {count}', en: 'Scenarios imported: {count}' },

  'import.title': { ru: 'Импорт сценариев', en: 'Import scenarios' },
  'import.file': { ru: 'Файл JSON', en: 'JSON file' },
  'import.paste': { ru: 'или вставьте JSON', en: 'or paste JSON' },
  'import.hint': {
    ru: 'Один сценарий в формате automation-flow/1 или {"flows": [...]}. Секреты в импортированных сценариях нужно заполнить заново.',
    en: 'One automation-flow/1 scenario or {"flows": [...]}. Secrets of imported scenarios must be filled in again.',
  },
  'import.submit': { ru: 'Импортировать', en: 'Import' },
  'import.badJson': { ru: 'Это не JSON: {message}', en: 'This is not JSON: {message}' },
  'import.empty': { ru: 'Выберите файл или вставьте JSON', en: 'Choose a file or paste JSON' },

  'editor.createTitle': { ru: 'Создание сценария', en: 'New scenario' },
  'editor.editTitle': { ru: 'Редактирование сценария', en: 'Edit scenario' },
  'editor.defaultName': { ru: 'Новый сценарий', en: 'New scenario' },
  'editor.name': { ru: 'Название сценария', en: 'Scenario name' },
  'editor.enable': { ru: 'Включить сценарий', en: 'Enable scenario' },
  'editor.save': { ru: 'Сохранить сценарий', en: 'Save scenario' },
  'editor.saving': { ru: 'Сохранение…', en: 'Saving…' },
  'editor.saved': { ru: 'Сценарий сохранён', en: 'Scenario saved' },
  'editor.cancel': { ru: 'Отменить', en: 'Cancel' },
  'editor.export': { ru: 'Экспорт', en: 'Export' },
  'editor.test': { ru: 'Тест', en: 'Test' },
  'editor.history': { ru: 'История запусков', en: 'Run history' },
  'editor.back': { ru: '← Сценарии', en: '← Scenarios' },
  'editor.unsavedTitle': { ru: 'Есть несохранённые изменения', en: 'There are unsaved changes' },
  'editor.unsavedText': { ru: 'Выйти из редактора без сохранения? Изменения будут потеряны.', en: 'Leave the editor without saving? The changes will be lost.' },
  'editor.leave': { ru: 'Выйти без сохранения', en: 'Leave without saving' },
  'editor.stay': { ru: 'Остаться', en: 'Stay' },
  'editor.unsavedMark': { ru: 'не сохранено', en: 'unsaved' },
  'editor.notFound': { ru: 'Сценарий не найден', en: 'Scenario not found' },
  'editor.saveErrors': { ru: 'Сценарий не сохранён: исправьте ошибки ({count})', en: 'The scenario was not saved: fix the errors ({count})' },
  'editor.missingSecrets': {
    ru: 'Секреты импортированного сценария нужно заполнить заново, иначе его нельзя включить:',
    en: 'The secrets of this imported scenario must be filled in again before it can be enabled:',
  },
  'editor.minimap': { ru: 'Мини-карта схемы', en: 'Diagram minimap' },
  'editor.canvas': { ru: 'Схема сценария', en: 'Scenario diagram' },
  'editor.emptyCanvas': {
    ru: 'Перетащите событие из палитры слева (или выберите его и нажмите Enter), затем добавьте условия и действия.',
    en: 'Drag an event from the palette on the left (or focus it and press Enter), then add conditions and actions.',
  },
  'editor.saveTrigger': { ru: 'Сохранить событие и условия как шаблон', en: 'Save event and conditions as a template' },
  'editor.saveAction': { ru: 'Сохранить действие как шаблон', en: 'Save action as a template' },
  'editor.presetName': { ru: 'Введите название шаблона', en: 'Enter a template name' },
  'editor.presetSaved': { ru: 'Шаблон «{name}» сохранён', en: 'Template “{name}” saved' },
  'editor.noEvent': { ru: 'Сначала добавьте событие', en: 'Add an event first' },
  'editor.replaceEventTitle': { ru: 'Заменить событие?', en: 'Replace the event?' },
  'editor.replaceEventText': {
    ru: 'В сценарии может быть только одно событие. Текущее событие «{name}» будет заменено, следующие за ним узлы останутся подключены.',
    en: 'A scenario has exactly one event. The current event “{name}” will be replaced; the nodes after it stay connected.',
  },
  'editor.replace': { ru: 'Заменить', en: 'Replace' },
  'editor.deleteNode': { ru: 'Удалить узел', en: 'Delete node' },
  'editor.edgeErrors': { ru: 'Ошибка связи', en: 'Connection error' },
  'editor.keyboardHint': {
    ru: 'Выделите узел и нажмите Delete, чтобы удалить его. Новый узел из палитры подключается после выделенного.',
    en: 'Select a node and press Delete to remove it. A palette node added by keyboard is connected after the selected one.',
  },

  'palette.title': { ru: 'Узлы', en: 'Nodes' },
  'palette.search': { ru: 'Поиск узла', en: 'Find a node' },
  'palette.event': { ru: 'События', en: 'Events' },
  'palette.condition': { ru: 'Условия', en: 'Conditions' },
  'palette.action': { ru: 'Действия', en: 'Actions' },
  'palette.flow': { ru: 'Управление', en: 'Flow control' },
  'palette.presets': { ru: 'Шаблоны', en: 'Templates' },
  'palette.noPresets': { ru: 'Шаблонов пока нет', en: 'No templates yet' },
  'palette.presetTrigger': { ru: 'событие и условия', en: 'event and conditions' },
  'palette.presetAction': { ru: 'действие', en: 'action' },
  'palette.deletePreset': { ru: 'Удалить шаблон «{name}»', en: 'Delete template “{name}”' },
  'palette.deletePresetTitle': { ru: 'Удалить шаблон?', en: 'Delete the template?' },
  'palette.deletePresetText': { ru: 'Шаблон «{name}» будет удалён. Сценарии, созданные из него, не изменятся.', en: 'Template “{name}” will be deleted. Scenarios made from it do not change.' },
  'palette.itemAria': { ru: '{title}: перетащите на схему или нажмите Enter, чтобы добавить', en: '{title}: drag onto the diagram or press Enter to add' },

  'kind.event': { ru: 'Событие', en: 'Event' },
  'kind.condition': { ru: 'Условие', en: 'Condition' },
  'kind.action': { ru: 'Действие', en: 'Action' },
  'kind.flow': { ru: 'Управление', en: 'Flow control' },

  'node.in': { ru: 'Вход', en: 'Input' },
  'node.out': { ru: 'Выход', en: 'Output' },
  'node.true': { ru: 'да', en: 'yes' },
  'node.false': { ru: 'нет', en: 'no' },
  'node.unknownType': { ru: 'Неизвестный тип узла', en: 'Unknown node type' },
  'node.hasErrors': { ru: 'Есть ошибки', en: 'Has errors' },

  'panel.params': { ru: 'Параметры', en: 'Parameters' },
  'panel.test': { ru: 'Тест', en: 'Test' },
  'panel.history': { ru: 'История запусков', en: 'Run history' },
  'panel.close': { ru: 'Скрыть панель', en: 'Hide panel' },
  'panel.selectNode': { ru: 'Выберите узел на схеме, чтобы настроить его.', en: 'Select a node on the diagram to configure it.' },
  'panel.nodeId': { ru: 'ID узла: {id}', en: 'Node id: {id}' },
  'panel.noParams': { ru: 'У этого узла нет параметров.', en: 'This node has no parameters.' },

  'form.secretSet': { ru: 'задано', en: 'set' },
  'form.secretKeep': { ru: 'Значение задано — введите новое, чтобы заменить', en: 'A value is set — type a new one to replace it' },
  'form.secretMissing': { ru: 'Введите значение', en: 'Enter a value' },
  'form.secretNotSet': { ru: 'не задано', en: 'not set' },
  'form.insertVariable': { ru: 'Вставить переменную', en: 'Insert a variable' },
  'form.variables': { ru: 'Переменные', en: 'Variables' },
  'form.variableFilter': { ru: 'Найти переменную', en: 'Find a variable' },
  'form.uploadHtml': { ru: 'Загрузить HTML-файл', en: 'Upload an HTML file' },
  'form.htmlLoaded': { ru: 'Загружен файл {name}', en: 'Loaded {name}' },
  'form.addStatus': { ru: 'Добавить', en: 'Add' },
  'form.statusPlaceholder': { ru: 'Название статуса', en: 'Status name' },
  'form.removeItem': { ru: 'Удалить «{value}»', en: 'Remove “{value}”' },
  'form.optionString': { ru: 'Текст', en: 'Text' },
  'form.optionArray': { ru: 'Список', en: 'List' },
  'form.optionNumber': { ru: 'Число', en: 'Number' },
  'form.optionInteger': { ru: 'Целое число', en: 'Integer' },
  'form.optionBoolean': { ru: 'Да/нет', en: 'Yes/no' },
  'form.optionObject': { ru: 'Объект', en: 'Object' },
  'form.optionNull': { ru: 'Пусто', en: 'Empty' },

  'conn.title': { ru: 'Связи', en: 'Connections' },
  'conn.none': { ru: 'Нет исходящих связей', en: 'No outgoing connections' },
  'conn.target': { ru: 'Подключить к узлу…', en: 'Connect to a node…' },
  'conn.branch': { ru: 'Ветка условия', en: 'Condition branch' },
  'conn.add': { ru: 'Подключить', en: 'Connect' },
  'conn.remove': { ru: 'Удалить связь с «{target}»', en: 'Remove the connection to “{target}”' },

  'test.title': { ru: 'Тестовый запуск', en: 'Test run' },
  'test.hint': {
    ru: 'Проверка без отправки: условия вычисляются на примере данных, сообщения показываются так, как были бы отправлены.',
    en: 'A dry run: conditions are evaluated on the sample data, messages are shown as they would be sent.',
  },
  'test.context': { ru: 'Данные события (JSON)', en: 'Event data (JSON)' },
  'test.reset': { ru: 'Пример данных', en: 'Sample data' },
  'test.run': { ru: 'Запустить тест', en: 'Run test' },
  'test.running': { ru: 'Выполняется…', en: 'Running…' },
  'test.badJson': { ru: 'Данные — не JSON: {message}', en: 'The data is not JSON: {message}' },
  'test.result': { ru: 'Результат: {status}', en: 'Result: {status}' },
  'test.noSteps': { ru: 'Шагов нет', en: 'No steps' },

  'runs.title': { ru: 'История запусков', en: 'Run history' },
  'runs.empty': { ru: 'Запусков пока нет', en: 'No runs yet' },
  'runs.unsaved': { ru: 'Сохраните сценарий, чтобы видеть историю его запусков.', en: 'Save the scenario to see its run history.' },
  'runs.retry': { ru: 'Повторить', en: 'Retry' },
  'runs.retried': { ru: 'Запуск поставлен в очередь повторно', en: 'The run was queued again' },
  'runs.steps': { ru: 'Шаги', en: 'Steps' },
  'runs.attempts': { ru: 'Попыток: {count}', en: 'Attempts: {count}' },
  'runs.trigger': { ru: 'Источник: {trigger}', en: 'Trigger: {trigger}' },
  'runs.duration': { ru: 'Длительность: {value}', en: 'Duration: {value}' },
  'runs.nextAttempt': { ru: 'Следующая попытка: {time}', en: 'Next attempt: {time}' },
  'runs.showSteps': { ru: 'Показать шаги запуска от {time}', en: 'Show the steps of the run at {time}' },

  'step.node': { ru: 'Узел', en: 'Node' },
  'step.verdict': { ru: 'Результат условия: {value}', en: 'Condition result: {value}' },
  'step.output': { ru: 'Вывод', en: 'Output' },
  'step.error': { ru: 'Ошибка: {message}', en: 'Error: {message}' },
  'step.unavailable': { ru: 'Получатель недоступен, повтор в {time}', en: 'Receiver unavailable, next try at {time}' },
  'step.retryAt': { ru: 'Повтор в {time}', en: 'Next try at {time}' },

  'status.succeeded': { ru: 'Выполнено', en: 'Succeeded' },
  'status.failed': { ru: 'Ошибка', en: 'Failed' },
  'status.skipped': { ru: 'Пропущено', en: 'Skipped' },
  'status.not_reached': { ru: 'Не достигнуто', en: 'Not reached' },
  'status.would_send': { ru: 'Будет отправлено', en: 'Would send' },
  'status.needs_secret': { ru: 'Нужен секрет', en: 'Needs a secret' },
  'status.pending': { ru: 'В очереди', en: 'Pending' },
  'status.queued': { ru: 'В очереди', en: 'Queued' },
  'status.running': { ru: 'Выполняется', en: 'Running' },
  'status.waiting': { ru: 'Ожидание', en: 'Waiting' },
  'status.delayed': { ru: 'Отложено', en: 'Delayed' },
  'status.completed': { ru: 'Завершено', en: 'Completed' },
  'status.partial': { ru: 'Частично', en: 'Partial' },
  'status.ok': { ru: 'Успешно', en: 'OK' },
  'status.dry_run': { ru: 'Тест', en: 'Dry run' },
  'status.no_match': { ru: 'Условия не выполнены', en: 'Conditions not met' },
  'status.retrying': { ru: 'Повтор', en: 'Retrying' },
  'status.would_trigger': { ru: 'Сценарий сработает', en: 'Would trigger' },
  'status.not_triggered': { ru: 'Не сработал', en: 'Not triggered' },
  'status.would_wait': { ru: 'Будет ожидание', en: 'Would wait' },
  'status.cancelled': { ru: 'Отменено', en: 'Cancelled' },
};

/** Russian strings for react-jsonschema-form's own texts (keyed by its English text). */
const rjsfRu = {
  Item: 'Элемент',
  'Missing items definition': 'Не задано описание элементов',
  'No items yet. Use the button below to add some.': 'Пока пусто. Добавьте элемент кнопкой ниже.',
  Yes: 'Да',
  No: 'Нет',
  Close: 'Закрыть',
  Errors: 'Ошибки',
  'New Value': 'Новое значение',
  Add: 'Добавить',
  'Add Item': 'Добавить',
  Copy: 'Копировать',
  'Move down': 'Ниже',
  'Move up': 'Выше',
  Remove: 'Удалить',
  Now: 'Сейчас',
  Clear: 'Очистить',
  'clear input': 'очистить поле',
  Type: 'Тип',
  Value: 'Значение',
  'Option %1': 'Вариант %1',
  '%1 Key': '%1: ключ',
  'Decrease value by 1': 'Уменьшить на 1',
  'Increase value by 1': 'Увеличить на 1',
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
