// The undo/redo stack of the editor, as pure functions over { past, future, lastKey }: a step is the
// canvas (nodes and edges) as it was before one change. Steps recorded with the same key one after
// another (the keystrokes of one field) make one step; undo and redo break that run.

export const HISTORY_LIMIT = 100;

export const emptyHistory = Object.freeze({ past: [], future: [], lastKey: null });

/** The history after recording `snapshot` (the state before a change); `key` merges a run of edits. */
export function record(history, snapshot, key = null, limit = HISTORY_LIMIT) {
  if (key && history.lastKey === key) return history;
  return { past: [...history.past, snapshot].slice(-limit), future: [], lastKey: key };
}

/** Ends a run of merged edits (the field lost focus): the next edit of that field is a step of its own. */
export function endRun(history) {
  return history.lastKey === null ? history : { ...history, lastKey: null };
}

/** [history, the snapshot to show] after one undo from `current`; the snapshot is null when there is nothing to undo. */
export function undo(history, current) {
  if (!history.past.length) return [history, null];
  const previous = history.past[history.past.length - 1];
  return [{ past: history.past.slice(0, -1), future: [current, ...history.future], lastKey: null }, previous];
}

/** [history, the snapshot to show] after one redo from `current`; null when there is nothing to redo. */
export function redo(history, current) {
  if (!history.future.length) return [history, null];
  const [next, ...rest] = history.future;
  return [{ past: [...history.past, current], future: rest, lastKey: null }, next];
}

/** A canvas snapshot: React Flow's transient fields (dragging, resizing) are not part of a step. */
export function snapshotOf(nodes, edges) {
  return {
    nodes: nodes.map(({ dragging: _d, resizing: _r, ...n }) => n),
    edges,
  };
}
