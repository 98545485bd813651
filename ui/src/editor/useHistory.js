// Undo/redo of canvas changes (issue #18): every change records the canvas as it was before it, once
// per gesture; the keystrokes of one field are one step (recordStep with a key, see history.js).
import { useCallback, useRef, useState } from 'react';
import { emptyHistory, endRun, record, redo, snapshotOf, undo } from './history.js';

export function useHistory({ nodes, edges, setNodes, setEdges }) {
  const stack = useRef(emptyHistory);
  const latest = useRef({ nodes, edges });
  latest.current = { nodes, edges };
  const inGesture = useRef(false);
  const [, setVersion] = useState(0);

  const commit = (h) => {
    stack.current = h;
    setVersion((v) => v + 1);
  };
  const current = () => snapshotOf(latest.current.nodes, latest.current.edges);

  /** Records the canvas before a change. Calls without a key in one task (a node and its edges removed) are one step. */
  const recordStep = useCallback((key = null) => {
    if (!key) {
      if (inGesture.current) return;
      inGesture.current = true;
      setTimeout(() => {
        inGesture.current = false;
      }, 0);
    }
    commit(record(stack.current, current(), key));
  }, []);

  const show = useCallback(
    (step) => () => {
      const [h, shown] = step(stack.current, current());
      if (!shown) return;
      commit(h);
      setNodes(shown.nodes);
      setEdges(shown.edges);
    },
    [setNodes, setEdges],
  );
  /** A field lost focus: its next edit is a new step. */
  const endEditRun = useCallback(() => {
    stack.current = endRun(stack.current);
  }, []);

  const doUndo = useCallback(() => show(undo)(), [show]);
  const doRedo = useCallback(() => show(redo)(), [show]);

  /** React Flow change handlers that record a removal (Delete key) before it happens. */
  const recording = useCallback(
    (handler) => (changes) => {
      if (changes.some((c) => c.type === 'remove')) recordStep();
      handler(changes);
    },
    [recordStep],
  );

  return {
    recordStep,
    undo: doUndo,
    redo: doRedo,
    canUndo: stack.current.past.length > 0,
    canRedo: stack.current.future.length > 0,
    recording,
    endEditRun,
  };
}
