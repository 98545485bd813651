// The site-form sources' event names, offered by «Пользовательское событие»'s name field.
import { useEffect, useState } from 'react';
import { api } from './api.js';

let cached = null; // one request per page load; a new source appears after a reload of the editor

export function useHookNames(wanted) {
  const [names, setNames] = useState(() => (Array.isArray(cached) ? cached : []));
  useEffect(() => {
    if (!wanted) return undefined;
    let alive = true;
    cached ||= api
      .hooks()
      .then((list) => [...new Set(list.map((h) => h.name))])
      .catch(() => []);
    Promise.resolve(cached).then((list) => {
      cached = list;
      if (alive) setNames(list);
    });
    return () => {
      alive = false;
    };
  }, [wanted]);
  return names;
}

/** The schema with `names` first among the `name` field's examples (rjsf lists them as suggestions). */
export function withEventNames(schema, names) {
  const prop = schema?.properties?.name;
  if (!prop || !names.length) return schema;
  const examples = [...new Set([...names, ...(prop.examples || [])])];
  return { ...schema, properties: { ...schema.properties, name: { ...prop, examples } } };
}
