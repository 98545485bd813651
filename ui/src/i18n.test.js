import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { LANGS, messages, pick, rjsfTranslator, statusLabel, translate } from './i18n.js';

const srcDir = path.dirname(new URL(import.meta.url).pathname);

function sourceFiles(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const p = path.join(dir, d.name);
    if (d.isDirectory()) return sourceFiles(p);
    return /\.(js|jsx)$/.test(d.name) && !/\.test\./.test(d.name) ? [p] : [];
  });
}

describe('message catalog', () => {
  it('every key has a non-empty ru and en text', () => {
    for (const [key, entry] of Object.entries(messages)) {
      for (const lang of LANGS) {
        expect(typeof entry[lang], `${key}.${lang}`).toBe('string');
        expect(entry[lang].trim(), `${key}.${lang}`).not.toBe('');
      }
    }
  });

  it('ru and en of a key use the same placeholders', () => {
    const vars = (s) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
    for (const [key, entry] of Object.entries(messages)) expect(vars(entry.en), key).toEqual(vars(entry.ru));
  });

  it('every t("…") key used in the source exists in the catalog', () => {
    const used = new Set();
    for (const file of sourceFiles(srcDir)) {
      const text = fs.readFileSync(file, 'utf8');
      for (const m of text.matchAll(/\b(?:t|onToast\??\.?)\(\s*'([a-zA-Z]+\.[a-zA-Z_.]+)'/g)) used.add(m[1]);
    }
    expect(used.size).toBeGreaterThan(50);
    const missing = [...used].filter((k) => !messages[k]);
    expect(missing).toEqual([]);
  });

  it('dynamic keys used by the UI exist', () => {
    for (const kind of ['event', 'condition', 'action', 'flow']) {
      expect(messages[`kind.${kind}`]).toBeTruthy();
      expect(messages[`palette.${kind}`]).toBeTruthy();
    }
    for (const tab of ['params', 'test', 'history']) expect(messages[`panel.${tab}`]).toBeTruthy();
    for (const s of ['succeeded', 'failed', 'skipped', 'not_reached', 'would_send']) expect(messages[`status.${s}`]).toBeTruthy();
    for (const b of ['true', 'false']) expect(messages[`node.${b}`]).toBeTruthy();
  });

  it('keeps the original Roistat texts', () => {
    expect(translate('ru', 'list.add')).toBe('+ Добавить сценарий');
    expect(translate('ru', 'list.empty')).toBe('Нет данных');
    expect(translate('ru', 'editor.enable')).toBe('Включить сценарий');
    expect(translate('ru', 'editor.save')).toBe('Сохранить сценарий');
    expect(translate('ru', 'editor.saveTrigger')).toBe('Сохранить событие и условия как шаблон');
    expect(translate('ru', 'editor.saveAction')).toBe('Сохранить действие как шаблон');
    expect(translate('ru', 'editor.presetName')).toBe('Введите название шаблона');
    expect(translate('ru', 'editor.createTitle')).toBe('Создание сценария');
    expect(translate('ru', 'editor.defaultName')).toBe('Новый сценарий');
    expect([translate('ru', 'list.colStatus'), translate('ru', 'list.colName'), translate('ru', 'list.colTriggered')]).toEqual([
      'Статус',
      'Сценарии',
      'Срабатываний',
    ]);
  });
});

describe('translate', () => {
  it('fills placeholders and falls back to the key', () => {
    expect(translate('en', 'list.failed', { count: 3 })).toBe('failed: 3');
    expect(translate('ru', 'no.such.key')).toBe('no.such.key');
    expect(translate('ru', 'list.failed')).toBe('ошибок: {count}');
  });
  it('status labels and API titles', () => {
    expect(statusLabel('ru', 'would_send')).toBe('Будет отправлено');
    expect(statusLabel('en', 'mystery')).toBe('mystery');
    expect(pick({ ru: 'Город', en: 'City' }, 'en')).toBe('City');
    expect(pick({ ru: 'Город' }, 'en')).toBe('Город');
  });
  it('translates rjsf strings with parameters', () => {
    expect(rjsfTranslator('ru')('Option %1', ['2'])).toBe('Вариант 2');
    expect(rjsfTranslator('en')('Option %1', ['2'])).toBe('Option 2');
  });
});
