// The editor's one modal at a time: a confirmation ({type: 'confirm', ...}) or a template name
// prompt ({type: 'preset', kind}).
import { useState } from 'react';

export function useDialog() {
  const [dialog, setDialog] = useState(null);

  /** Shows a confirmation; resolves true (confirmed) or false (cancelled). */
  const confirm = (opts) =>
    new Promise((resolve) => {
      setDialog({
        type: 'confirm',
        ...opts,
        onConfirm: () => {
          setDialog(null);
          resolve(true);
        },
        onCancel: () => {
          setDialog(null);
          resolve(false);
        },
      });
    });

  return { dialog, setDialog, confirm };
}
