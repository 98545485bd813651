// The rjsf validator. The Flask server sends `Content-Security-Policy: script-src 'self'` (no
// 'unsafe-eval'), and ajv compiles every schema with `new Function`, which that policy forbids.
// So the browser uses @cfworker/json-schema, an interpreting draft 2020-12 validator that never
// evaluates strings, behind rjsf's ValidatorType interface. (src/validator.test.js checks it against
// ajv's 2020 build on every node schema in the repository.)
import { Validator } from '@cfworker/json-schema';
import { createErrorHandler, createSchemaUtils, toErrorSchema, unwrapErrorHandler, validationDataMerge } from '@rjsf/utils';

const ROOT_ID = 'urn:rjsf:root';
const CACHE_LIMIT = 500;

/** A copy of `schema` whose local refs ("#/$defs/x") point into the registered root schema. */
function withRootRefs(schema) {
  if (!schema || typeof schema !== 'object') return schema;
  if (Array.isArray(schema)) return schema.map(withRootRefs);
  const out = {};
  for (const [k, v] of Object.entries(schema)) {
    out[k] = k === '$ref' && typeof v === 'string' && v.startsWith('#') ? `${ROOT_ID}${v}` : withRootRefs(v);
  }
  return out;
}

function stripIds(schema) {
  if (!schema || typeof schema !== 'object' || Array.isArray(schema)) return schema;
  const { $id: _id, $schema: _s, ...rest } = schema;
  return rest;
}

/** "#/a/b~1c" -> ["a", "b/c"] */
function pointerToPath(location) {
  const p = String(location || '').replace(/^#/, '');
  if (!p || p === '/') return [];
  return p
    .slice(1)
    .split('/')
    .map((s) => decodeURIComponent(s).replace(/~1/g, '/').replace(/~0/g, '~'));
}

// Keywords whose error only says "a sub-schema failed"; the sub-schema's own error is the useful one.
const WRAPPERS = new Set(['properties', 'items', 'prefixItems', 'allOf', '$ref', 'if', 'then', 'else', 'patternProperties', 'dependentSchemas', 'unevaluatedProperties', 'contains', 'additionalItems']);

export class CspSafeValidator {
  constructor() {
    this.cache = new Map();
  }

  reset() {
    this.cache.clear();
  }

  validatorFor(schema, rootSchema, shortCircuit) {
    const key = `${shortCircuit ? 1 : 0}|${JSON.stringify(schema)}|${rootSchema && rootSchema !== schema ? JSON.stringify(rootSchema) : ''}`;
    let v = this.cache.get(key);
    if (!v) {
      const usesRoot = rootSchema && rootSchema !== schema;
      v = new Validator(usesRoot ? withRootRefs(stripIds(schema)) : stripIds(schema), '2020-12', shortCircuit);
      if (usesRoot) v.addSchema(stripIds(rootSchema), ROOT_ID);
      if (this.cache.size >= CACHE_LIMIT) this.cache.delete(this.cache.keys().next().value);
      this.cache.set(key, v);
    }
    return v;
  }

  /** Errors as { keyword, path: [..], message } — the leaves only. */
  rawValidation(schema, formData) {
    try {
      const result = this.validatorFor(schema, null, false).validate(formData === undefined ? {} : formData);
      const errors = result.errors
        .filter((e) => !WRAPPERS.has(e.keyword))
        .map((e) => {
          const path = pointerToPath(e.instanceLocation);
          if (e.keyword === 'required') {
            const m = /property "([^"]+)"/.exec(e.error);
            if (m) path.push(m[1]);
          }
          return { keyword: e.keyword, path, message: e.error, schemaPath: e.keywordLocation };
        });
      return { errors, validationError: undefined };
    } catch (err) {
      return { errors: undefined, validationError: err };
    }
  }

  isValid(schema, formData, rootSchema) {
    try {
      return this.validatorFor(schema, rootSchema, true).validate(formData).valid;
    } catch {
      return false;
    }
  }

  validateFormData(formData, schema, customValidate, transformErrors, uiSchema) {
    const raw = this.rawValidation(schema, formData);
    let errors = (raw.errors || []).map((e) => {
      const property = e.path.length ? `.${e.path.join('.')}` : '';
      return { name: e.keyword, property, message: e.message, params: {}, stack: `${property} ${e.message}`.trim(), schemaPath: e.schemaPath };
    });
    if (raw.validationError) {
      errors = [...errors, { name: 'schema', property: '', message: raw.validationError.message, params: {}, stack: raw.validationError.message }];
    }
    if (typeof transformErrors === 'function') errors = transformErrors(errors, uiSchema);
    let errorSchema = toErrorSchema(errors);
    if (typeof customValidate === 'function') {
      const handler = customValidate(formData, createErrorHandler(formData), uiSchema);
      const userErrorSchema = unwrapErrorHandler(handler);
      return validationDataMerge({ errors, errorSchema }, userErrorSchema);
    }
    return { errors, errorSchema };
  }
}

export const validator = new CspSafeValidator();

/** rjsf default-filling options: a list with minItems starts empty, not as [undefined]. */
export const DEFAULTS_BEHAVIOR = { arrayMinItems: { populate: 'never' } };

/** The params a freshly added node starts with: the schema's defaults. */
export function defaultParams(schema) {
  return withDefaults(schema, {}) || {};
}

/**
 * `params` completed with the schema's defaults, as the node form fills them in when it opens.
 * A loaded flow goes through this too, so that opening a node's form is not an unsaved change.
 */
export function withDefaults(schema, params) {
  if (!schema) return params;
  try {
    const local = stripIds(schema);
    return createSchemaUtils(validator, local, DEFAULTS_BEHAVIOR).getDefaultFormState(local, params ?? {}) ?? params;
  } catch {
    return params;
  }
}
