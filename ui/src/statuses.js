// The order statuses the server has seen (GET /api/v1/statuses), loaded once per page: what the
// «Статус сделки» fields offer, and the names they warn about.
import { useEffect, useState } from 'react';
import { api } from './api.js';

let pending = null;

/** The statuses, fetched at the first call; `null` when they could not be loaded. */
export function loadStatuses() {
  if (!pending) {
    pending = api.statuses().catch(() => {
      pending = null;
      return null;
    });
  }
  return pending;
}

export function useStatuses() {
  const [list, setList] = useState(null);
  useEffect(() => {
    let live = true;
    loadStatuses().then((l) => live && setList(Array.isArray(l) ? l : null));
    return () => {
      live = false;
    };
  }, []);
  return list;
}

const fold = (s) => String(s).trim().toLocaleLowerCase();

/** The items no order has had (statuses compare case-insensitively, as the condition does); none
 * while the list is unknown or empty (a fresh install has seen no order yet). */
export function unknownStatuses(items, known) {
  if (!Array.isArray(known) || known.length === 0) return [];
  const names = new Set(known.map((s) => fold(s.name)));
  return items.filter((v) => !names.has(fold(v)));
}
