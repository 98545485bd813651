// The form's checks while typing speak Russian and leave the required fields to the save.
import { describe, expect, it } from 'vitest';
import { validator } from '../validator.js';
import { atPointer, localizeErrors } from './fieldChecks.js';

const schema = {
  type: 'object',
  required: ['url', 'text'],
  properties: {
    url: { type: 'string', format: 'uri', pattern: '^https?://' },
    amount: { type: 'number', minimum: 0, maximum: 100 },
    email: { type: 'string', format: 'email' },
    text: { type: 'string' },
    value: { anyOf: [{ type: 'string', maxLength: 3 }, { type: 'number' }] },
  },
};

const messages = (data, lang = 'ru') => {
  const { errors } = validator.validateFormData(data, schema, undefined, (errs) => localizeErrors(errs, schema, lang));
  return Object.fromEntries(errors.map((e) => [e.property, e.message]));
};

describe('checks while typing', () => {
  it('says what is wrong in Russian, at the field', () => {
    expect(messages({ url: 'ftp://example.com', text: 'x' })).toEqual({ '.url': 'Адрес должен начинаться с http:// или https://' });
    expect(messages({ url: 'https://example.com', amount: 150, text: 'x' })).toEqual({ '.amount': 'Не больше 100' });
    expect(messages({ url: 'https://example.com', amount: -1, text: 'x' })).toEqual({ '.amount': 'Не меньше 0' });
    expect(messages({ url: 'https://example.com', email: 'нет', text: 'x' })).toEqual({ '.email': 'Введите адрес email, например name@example.com' });
    expect(messages({ url: 'https://example.com', amount: 'десять', text: 'x' })).toEqual({ '.amount': 'Введите число' });
  });

  it('leaves a missing required field to the save and says one thing about a choice of shapes', () => {
    expect(messages({})).toEqual({});
    const out = messages({ url: 'https://e.com', value: [1] });
    expect(Object.keys(out)).toEqual(['.value']);
  });

  it('has English too', () => {
    expect(messages({ url: 'https://example.com', amount: 150, text: 'x' }, 'en')).toEqual({ '.amount': 'At most 100' });
  });

  it('reads a pointer into the schema', () => {
    expect(atPointer(schema, '#/properties/amount/maximum')).toBe(100);
    expect(atPointer(schema, '#/properties/nothing/maximum')).toBeUndefined();
  });
});
