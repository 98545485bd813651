// A page's list loaded once from the API (null until it arrives), with the page's error banner:
// a failed load shows its error there, except a 401 (the app asks for a token again).
import { useCallback, useEffect, useState } from 'react';
import { errorText } from '../api.js';

export function useLoadedList(fetchList, t) {
  const [items, setItems] = useState(null);
  const [error, setError] = useState(null);

  const load = useCallback(async () => {
    try {
      setItems(await fetchList());
    } catch (err) {
      if (err.status !== 401) setError(errorText(err, t));
    }
  }, [fetchList, t]);

  useEffect(() => {
    load();
  }, [load]);

  return { items, setItems, error, setError, load };
}
