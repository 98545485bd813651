// One shared rjsf validator on ajv's JSON Schema 2020-12 build (the node schemas are draft 2020-12).
import { customizeValidator } from '@rjsf/validator-ajv8';
import Ajv2020 from 'ajv/dist/2020.js';
import { createSchemaUtils } from '@rjsf/utils';

export const validator = customizeValidator({ AjvClass: Ajv2020 });

/** The params a freshly added node starts with: the schema's defaults. */
export function defaultParams(schema) {
  if (!schema) return {};
  try {
    const local = { ...schema };
    delete local.$id;
    delete local.$schema;
    return createSchemaUtils(validator, local).getDefaultFormState(local, {}) || {};
  } catch {
    return {};
  }
}
