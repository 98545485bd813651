// «Оповещать об ошибках»: settings.alert (issue #19) — the failure share over a window that sends
// one message through a Slack, Telegram or e-mail connection, and optionally stops the scenario.
import { useEffect, useState } from 'react';
import { api } from '../api.js';
import { useI18n } from '../i18n.js';

export const ALERT = { failure_share: 0.5, window_minutes: 60, min_runs: 10, connection: '', pause: false };
const CHANNELS = ['slack', 'telegram', 'smtp'];

/** The share as a whole percent for the field, and back (0.5 ⇄ 50). */
export const toPercent = (share) => Math.round((share ?? 0) * 100);
export const fromPercent = (percent) => Math.min(100, Math.max(1, Number(percent) || 1)) / 100;

function useAlertConnections() {
  const [list, setList] = useState(null);
  useEffect(() => {
    let live = true;
    api.connections().then(
      (all) => live && setList(all.filter((c) => CHANNELS.includes(c.type))),
      () => live && setList([]),
    );
    return () => {
      live = false;
    };
  }, []);
  return list;
}

export function AlertSettings({ value, onChange, problems, Problems }) {
  const { t } = useI18n();
  const connections = useAlertConnections();
  const on = Boolean(value);
  const chosen = on && (connections || []).find((c) => c.id === value.connection);
  const needsTo = chosen && chosen.type !== 'slack';
  const num = (key, min, max) => (e) => onChange({ ...value, [key]: Math.min(max, Math.max(min, Number(e.target.value) || min)) });
  const pick = (e) => {
    const next = { ...value, connection: e.target.value };
    const kind = (connections || []).find((c) => c.id === e.target.value)?.type;
    if (kind === 'slack' || !kind) delete next.to;
    onChange(next);
  };
  return (
    <fieldset className="settings-group" data-testid="settings-alert">
      <label className="settings-check">
        <input type="checkbox" checked={on} onChange={(e) => onChange(e.target.checked ? ALERT : null)} data-testid="alert-on" />
        {t('alert.on')}
      </label>
      {on && (
        <>
          <div className="settings-line">
            <span>{t('alert.share')}</span>
            <input
              type="number" className="input input-sm settings-num" min={1} max={100} value={toPercent(value.failure_share)}
              onChange={(e) => onChange({ ...value, failure_share: fromPercent(e.target.value) })}
              aria-label={t('alert.shareLabel')} data-testid="alert-share"
            />
            <span>{t('alert.window')}</span>
            <input
              type="number" className="input input-sm settings-num" min={5} max={10080} value={value.window_minutes ?? 60}
              onChange={num('window_minutes', 5, 10080)} aria-label={t('alert.windowLabel')} data-testid="alert-window"
            />
            <span>{t('alert.minutes')}</span>
          </div>
          <div className="settings-line">
            <span>{t('alert.minRuns')}</span>
            <input
              type="number" className="input input-sm settings-num" min={1} max={1000000} value={value.min_runs ?? 10}
              onChange={num('min_runs', 1, 1000000)} aria-label={t('alert.minRunsLabel')} data-testid="alert-min-runs"
            />
          </div>
          <div className="settings-line">
            <span>{t('alert.connection')}</span>
            <select className="input input-sm" value={value.connection || ''} onChange={pick} aria-label={t('alert.connection')} data-testid="alert-connection">
              <option value="">{t('alert.pick')}</option>
              {(connections || []).map((c) => <option key={c.id} value={c.id}>{c.name}</option>)}
            </select>
            {needsTo && (
              <input
                className="input input-sm alert-target" value={value.to || ''}
                onChange={(e) => onChange({ ...value, to: e.target.value })}
                placeholder={t(chosen.type === 'telegram' ? 'alert.toTelegram' : 'alert.toEmail')}
                aria-label={t('alert.to')} data-testid="alert-to"
              />
            )}
          </div>
          {connections && connections.length === 0 && <p className="muted small" data-testid="alert-no-connections">{t('alert.none')}</p>}
          <label className="settings-check">
            <input type="checkbox" checked={Boolean(value.pause)} onChange={(e) => onChange({ ...value, pause: e.target.checked })} data-testid="alert-pause" />
            {t('alert.pause')}
          </label>
        </>
      )}
      <p className="muted small">{t('alert.hint')}</p>
      <Problems problems={problems} />
    </fieldset>
  );
}
