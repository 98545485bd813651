// Unsaved changes: ask before leaving the editor (in-app navigation through App's leaveGuard, and the
// browser's own beforeunload prompt).
import { useCallback, useEffect } from 'react';
import { useI18n } from '../i18n.js';
import { navigate } from '../router.js';

export function useLeaveGuard({ dirty, setDialog, leaveGuard }) {
  const { t } = useI18n();

  const confirmLeave = useCallback(
    () =>
      new Promise((resolve) => {
        if (!dirty) {
          resolve(true);
          return;
        }
        setDialog({
          type: 'confirm',
          title: t('editor.unsavedTitle'),
          text: t('editor.unsavedText'),
          confirmLabel: t('editor.leave'),
          cancelLabel: t('editor.stay'),
          danger: true,
          onConfirm: () => {
            setDialog(null);
            resolve(true);
          },
          onCancel: () => {
            setDialog(null);
            resolve(false);
          },
        });
      }),
    [dirty, t, setDialog],
  );
  useEffect(() => {
    leaveGuard.current = { dirty, confirm: confirmLeave };
    return () => {
      leaveGuard.current = null;
    };
  }, [dirty, confirmLeave, leaveGuard]);
  useEffect(() => {
    if (!dirty) return undefined;
    const onBeforeUnload = (e) => {
      e.preventDefault();
      e.returnValue = '';
    };
    window.addEventListener('beforeunload', onBeforeUnload);
    return () => window.removeEventListener('beforeunload', onBeforeUnload);
  }, [dirty]);

  /** «Отменить»: back to the list, after confirming when there are unsaved changes. */
  const cancel = async () => {
    if (!(await confirmLeave())) return;
    leaveGuard.current = { dirty: false, confirm: confirmLeave };
    navigate('#/');
  };

  return { cancel };
}
