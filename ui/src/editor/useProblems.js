// The server's problems (RFC 9457 errors mapped to the banner, the name field, nodes and edges).
import { useState } from 'react';
import { errorText } from '../api.js';
import { useI18n } from '../i18n.js';
import { mapProblem } from '../problems.js';
import { NO_PROBLEMS } from './constants.js';

export function useProblems() {
  const { t } = useI18n();
  const [problems, setProblems] = useState(NO_PROBLEMS);
  const [problemTitle, setProblemTitle] = useState(null);

  /** Shows a problem answer to `sentDoc` (save, test run). */
  const showProblem = (problem, sentDoc) => {
    setProblems(mapProblem(problem, sentDoc));
    setProblemTitle(problem.title || null);
  };

  const clearProblems = () => {
    setProblems(NO_PROBLEMS);
    setProblemTitle(null);
  };

  /** A failed request that is not about the document: one banner line. */
  const showError = (err) => setProblems({ ...NO_PROBLEMS, banner: [{ path: '', message: errorText(err, t) }] });

  return { problems, setProblems, problemTitle, showProblem, clearProblems, showError };
}
