// The CSP-safe validator must agree with ajv's JSON Schema 2020-12 build on the real node schemas.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { customizeValidator } from '@rjsf/validator-ajv8';
import Ajv2020 from 'ajv/dist/2020.js';
import { defaultParams, validator, withDefaults } from './validator.js';
import { formSchemas } from './schemaUi.js';

const schemasDir = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../plugin/schemas');
const ajv = customizeValidator({ AjvClass: Ajv2020 });

function nodeSchemas() {
  const out = [];
  for (const kind of fs.readdirSync(schemasDir, { withFileTypes: true })) {
    if (!kind.isDirectory()) continue;
    for (const f of fs.readdirSync(path.join(schemasDir, kind.name))) {
      if (!f.endsWith('.json')) continue;
      try {
        const s = JSON.parse(fs.readFileSync(path.join(schemasDir, kind.name, f), 'utf8'));
        if (s['x-type']) out.push(s);
      } catch {
        /* a schema being written right now */
      }
    }
  }
  return out;
}

/** Data that should break a schema in a few different ways. */
function mutations(schema, example) {
  const out = [{}, { ...example, __extra: 1 }];
  for (const [k, p] of Object.entries(schema.properties || {})) {
    out.push({ ...example, [k]: p.type === 'string' ? 12345 : 'not-a-number' });
    if (p.enum) out.push({ ...example, [k]: '__not_in_enum__' });
    const { [k]: _drop, ...without } = example;
    out.push(without);
  }
  return out;
}

const schemas = nodeSchemas();

describe('CSP-safe validator', () => {
  it('finds node schemas to check', () => {
    expect(schemas.length).toBeGreaterThanOrEqual(2);
  });

  for (const schema of schemas) {
    it(`agrees with ajv 2020 on ${schema['x-type']}`, () => {
      const { schema: form } = formSchemas(schema, 'ru');
      const examples = Array.isArray(schema.examples) && schema.examples.length ? schema.examples : [{}];
      for (const ex of examples) {
        expect(validator.isValid(form, ex, form), JSON.stringify(ex)).toBe(ajv.isValid(form, ex, form));
        for (const bad of mutations(schema, ex)) {
          expect(validator.isValid(form, bad, form), `${schema['x-type']} ${JSON.stringify(bad)}`).toBe(ajv.isValid(form, bad, form));
        }
      }
    });
  }

  it('reports field errors where rjsf expects them', () => {
    const slack = schemas.find((s) => s['x-type'] === 'action.slack');
    const { schema } = formSchemas(slack, 'ru');
    const { errorSchema } = validator.validateFormData({ text: 42 }, schema);
    expect(errorSchema.text.__errors.length).toBeGreaterThan(0);
    expect(errorSchema.webhook_url.__errors.length).toBeGreaterThan(0);
  });

  it('resolves local $refs against the root schema', () => {
    const root = { $defs: { n: { type: 'integer' } }, type: 'object', properties: { a: { $ref: '#/$defs/n' } } };
    expect(validator.isValid({ $ref: '#/$defs/n' }, 3, root)).toBe(true);
    expect(validator.isValid({ $ref: '#/$defs/n' }, 'x', root)).toBe(false);
  });

  it('starts lists with minItems empty (no [undefined])', () => {
    expect(defaultParams({ type: 'object', properties: { v: { type: 'array', items: { type: 'string' }, minItems: 1 } } })).toEqual({});
    const status = schemas.find((s) => s['x-type'] === 'condition.order_status');
    if (status) expect(JSON.stringify(defaultParams(status))).not.toContain('null');
  });

  it('fills defaults for new nodes', () => {
    for (const schema of schemas) {
      const params = defaultParams(schema);
      for (const [k, p] of Object.entries(schema.properties || {})) {
        const emptyContainer = p.default && typeof p.default === 'object' && Object.keys(p.default).length === 0;
        if (p.default !== undefined && !emptyContainer) expect(params[k], `${schema['x-type']}.${k}`).toEqual(p.default);
      }
    }
  });

  it('completes stored params with defaults and keeps every stored value', () => {
    const city = schemas.find((s) => s['x-type'] === 'condition.visit_city');
    const stored = { operator: 'equals', value: 'Москва' };
    const filled = withDefaults(city, stored);
    expect(filled).toMatchObject(stored);
    expect(filled.case_sensitive).toBe(city.properties.case_sensitive.default);
    expect(withDefaults(city, filled)).toEqual(filled);
    expect(withDefaults(undefined, stored)).toBe(stored);
  });
});
