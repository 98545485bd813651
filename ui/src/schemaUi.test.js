import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { formSchemas, localizeSchema, paramsSummary } from './schemaUi.js';
import { defaultParams, validator } from './validator.js';
import { insertAt, toStatusList } from './components/widgets.jsx';
import { captureToken } from './auth.js';
import { parseHash } from './router.js';
import { exportFileName } from './api.js';

const repo = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const readSchema = (rel) => JSON.parse(fs.readFileSync(path.join(repo, 'plugin/schemas', rel), 'utf8'));
const slack = readSchema('actions/slack.json');
const city = readSchema('conditions/visit_city.json');

describe('schema -> form', () => {
  it('uses Russian titles by default and x-title-en in English', () => {
    expect(formSchemas(slack, 'ru').schema.properties.text.title).toBe('Текст сообщения');
    expect(formSchemas(slack, 'en').schema.properties.text.title).toBe('Message text');
    expect(formSchemas(slack, 'en').schema.properties.text.description).toBe('Variables such as {client_name} are allowed');
  });

  it('maps x- hints to widgets', () => {
    const { uiSchema } = formSchemas(slack, 'ru');
    expect(uiSchema.webhook_url['ui:widget']).toBe('secret');
    expect(uiSchema.text['ui:widget']).toBe('template');
    expect(uiSchema.text['ui:options']).toMatchObject({ multiline: true, template: true });
    expect(uiSchema['ui:submitButtonOptions']).toEqual({ norender: true });
    const html = formSchemas({ type: 'object', properties: { html: { type: 'string', 'x-widget': 'html', 'x-template': true }, st: { type: 'array', items: { type: 'string' }, 'x-widget': 'status-list' } } }, 'ru').uiSchema;
    expect(html.html['ui:widget']).toBe('html');
    expect(html.st['ui:widget']).toBe('statusList');
  });

  it('labels enums with x-enum-titles in the chosen language', () => {
    expect(formSchemas(city, 'ru').uiSchema.operator['ui:enumNames'][0]).toBe('Равно');
    expect(formSchemas(city, 'en').uiSchema.operator['ui:enumNames'][0]).toBe('Equals');
  });

  it('hides the label of anyOf options and edits string lists as chips', () => {
    const ui = formSchemas(city, 'ru').uiSchema.value.anyOf;
    expect(ui.map((o) => o['ui:label'])).toEqual([false, false]);
    expect(ui[1]['ui:widget']).toBe('statusList');
  });

  it('a status-list over "list or comma string" becomes one chips field', () => {
    const status = readSchema('conditions/order_status.json');
    const ui = formSchemas(status, 'ru').uiSchema.value;
    expect(ui['ui:field']).toBe('statusList');
    expect(ui['ui:fieldReplacesAnyOrOneOf']).toBe(true);
    expect(ui.anyOf).toBeUndefined();
    expect(toStatusList('Новая, В работе')).toEqual(['Новая', 'В работе']);
    expect(toStatusList(['a'])).toEqual(['a']);
    expect(toStatusList(undefined)).toEqual([]);
    expect(toStatusList([undefined, null, '', 'x'])).toEqual(['x']);
  });

  it('names untitled anyOf options and drops $id/$schema', () => {
    const s = localizeSchema(city, 'ru', (t) => ({ string: 'Текст', array: 'Список' })[t]);
    expect(s.properties.value.anyOf.map((o) => o.title)).toEqual(['Текст', 'Список']);
    expect(s.$id).toBeUndefined();
    expect(s.$schema).toBeUndefined();
    expect(city.$id).toBeDefined(); // the input is not changed
  });

  it('validates with the 2020-12 validator and fills defaults', () => {
    const { schema } = formSchemas(city, 'ru');
    expect(validator.validateFormData({ operator: 'equals' }, schema).errors.length).toBeGreaterThan(0);
    expect(validator.validateFormData({ operator: 'equals', value: 'Москва' }, schema).errors).toEqual([]);
    expect(defaultParams(city)).toMatchObject({ operator: 'equals', case_sensitive: false });
  });

  it('summarises params for the canvas without secrets', () => {
    expect(paramsSummary(city, { operator: 'any_of', value: ['Москва', 'Казань'] }, 'ru')).toBe('Любое из · Москва, Казань');
    expect(paramsSummary(slack, { text: 'Привет', webhook_url: 'https://secret' }, 'ru')).toBe('Привет');
    expect(paramsSummary({ properties: { to: {}, from: {} } }, { to: ['Оплачено'], from: [] }, 'ru')).toBe('Оплачено');
  });
});

describe('small helpers', () => {
  it('insertAt puts a variable at the caret', () => {
    expect(insertAt('Привет, !', 8, 8, '{client_name}')).toEqual({ text: 'Привет, {client_name}!', caret: 21 });
    expect(insertAt(undefined, undefined, undefined, '{x}')).toEqual({ text: '{x}', caret: 3 });
    expect(insertAt('abcdef', 1, 3, 'X').text).toBe('aXdef');
  });

  it('captureToken moves ?token= into storage and cleans the URL', () => {
    const store = {};
    const storage = { setItem: (k, v) => (store[k] = v) };
    expect(captureToken({ href: 'http://h:8080/?token=abc&x=1#/flows/2' }, storage)).toBe('/?x=1#/flows/2');
    expect(store['automation-token']).toBe('abc');
    expect(captureToken({ href: 'http://h:8080/?token=t2' }, storage)).toBe('/');
    expect(captureToken({ href: 'http://h:8080/#/' }, storage)).toBeNull();
  });

  it('parses hash routes', () => {
    expect(parseHash('')).toEqual({ name: 'list' });
    expect(parseHash('#/flows/new')).toEqual({ name: 'editor', id: 'new' });
    expect(parseHash('#/flows/a%2Fb')).toEqual({ name: 'editor', id: 'a/b' });
  });

  it('export file names are safe', () => {
    expect(exportFileName('Напоминание о сделке')).toBe('Напоминание о сделке.json');
    expect(exportFileName('a/b:c')).toBe('a_b_c.json');
    expect(exportFileName('')).toBe('flow.json');
  });
});

describe('webhook headers', () => {
  const schema = {
    type: 'object',
    properties: {
      headers: { type: 'object', 'x-widget': 'headers', 'x-secret-keys': { flag: 'secret_headers', names: ['authorization', '*-token', '*signature*'] } },
      secret_headers: { type: 'array', items: { type: 'string' }, 'x-widget': 'hidden' },
    },
  };
  it('edits headers with their «секрет» checkboxes and hides the list they fill', () => {
    const { uiSchema } = formSchemas(schema, 'ru');
    expect(uiSchema.headers['ui:field']).toBe('headers');
    expect(uiSchema.secret_headers['ui:field']).toBe('hidden');
  });
  it('knows the headers secret by name, in any case', async () => {
    const { secretByName } = await import('./components/HeadersField.jsx');
    const rule = schema.properties.headers['x-secret-keys'];
    expect(secretByName('Authorization', rule)).toBe(true);
    expect(secretByName('X-Auth-TOKEN', rule)).toBe(true);
    expect(secretByName('X-Hub-Signature-256', rule)).toBe(true);
    expect(secretByName('X-Source', rule)).toBe(false);
    expect(secretByName('X-Token-Type', rule)).toBe(false);
  });
});
