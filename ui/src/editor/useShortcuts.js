// The editor's keyboard shortcuts: Ctrl+Z undo, Ctrl+Shift+Z / Ctrl+Y redo, Ctrl+C / Ctrl+V copy and
// paste nodes, Ctrl+D duplicate. Inside a text field the browser's own undo and copy stay in charge.
import { useEffect, useRef } from 'react';

function typingIn(target) {
  if (!target || !(target instanceof Element)) return false;
  if (target.closest('[role="dialog"]')) return true;
  const tag = target.tagName;
  return tag === 'INPUT' || tag === 'TEXTAREA' || tag === 'SELECT' || target.isContentEditable;
}

/** The action for a key event, or null. */
export function shortcutOf(e) {
  if (!(e.ctrlKey || e.metaKey) || e.altKey) return null;
  const key = String(e.key || '').toLowerCase();
  const code = String(e.code || '');
  const is = (letter) => key === letter || code === `Key${letter.toUpperCase()}`;
  if (is('z')) return e.shiftKey ? 'redo' : 'undo';
  if (is('y') && !e.shiftKey) return 'redo';
  if (e.shiftKey) return null;
  if (is('c')) return 'copy';
  if (is('v')) return 'paste';
  if (is('d')) return 'duplicate';
  return null;
}

export function useShortcuts(actions) {
  const ref = useRef(actions);
  ref.current = actions;
  useEffect(() => {
    const onKey = (e) => {
      const action = shortcutOf(e);
      if (!action || typingIn(e.target)) return;
      // copying with text selected on the page is the browser's, not ours
      if (action === 'copy' && String(window.getSelection?.() || '')) return;
      const run = ref.current[action];
      if (!run) return;
      e.preventDefault();
      run();
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, []);
}
