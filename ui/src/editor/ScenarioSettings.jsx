// «Настройки сценария»: the flow's frequency rule and send window (settings.frequency,
// settings.send_window; SPEC §11), edited in the document's base and saved with the flow.
import { useI18n } from '../i18n.js';
import { AlertSettings } from './AlertSettings.jsx';
import { ExitEvent, RunMode } from './JourneySettings.jsx';

const DAYS = [1, 2, 3, 4, 5, 6, 7];
const PER = ['client', 'order', 'visitor'];
export const DEFAULT_TIMEZONE = 'Europe/Moscow';
const ZONES = [
  'Europe/Kaliningrad', 'Europe/Moscow', 'Europe/Samara', 'Asia/Yekaterinburg', 'Asia/Omsk',
  'Asia/Novosibirsk', 'Asia/Krasnoyarsk', 'Asia/Irkutsk', 'Asia/Yakutsk', 'Asia/Vladivostok',
  'Asia/Magadan', 'Asia/Kamchatka', 'Europe/Minsk', 'Asia/Almaty', 'Europe/Kyiv', 'UTC',
];
const FREQUENCY = { per: 'client', limit: 1, window_hours: 24 };
const WINDOW = { days: [1, 2, 3, 4, 5], from: '09:00', to: '21:00', timezone: DEFAULT_TIMEZONE };

/** `settings` with `key` set to `value` (or removed when null); no empty object is left behind. */
export function withSetting(settings, key, value) {
  const next = { ...(settings || {}) };
  if (value === null) delete next[key];
  else next[key] = value;
  return Object.keys(next).length ? next : undefined;
}

export function ScenarioSettings({ base, setBase, problems = [] }) {
  const { t } = useI18n();
  const settings = base.settings || {};
  const set = (key, value) =>
    setBase((b) => {
      const next = withSetting(b.settings, key, value);
      const { settings: _old, ...rest } = b;
      return next ? { ...rest, settings: next } : rest;
    });
  const problemAt = (prefix) => problems.filter((p) => p.path.startsWith(prefix));
  return (
    <div className="scenario-settings" data-testid="scenario-settings">
      <h2 className="panel-title">{t('settings.title')}</h2>
      <Frequency value={settings.frequency} onChange={(v) => set('frequency', v)} problems={problemAt('/settings/frequency')} />
      <SendWindow value={settings.send_window} onChange={(v) => set('send_window', v)} problems={problemAt('/settings/send_window')} />
      <RunMode value={settings.run_mode} onChange={(v) => set('run_mode', v)} problems={problemAt('/settings/run_mode')} Problems={Problems} />
      <ExitEvent value={settings.exit_event} onChange={(v) => set('exit_event', v)} problems={problemAt('/settings/exit_event')} Problems={Problems} />
      <AlertSettings value={settings.alert} onChange={(v) => set('alert', v)} problems={problemAt('/settings/alert')} Problems={Problems} />
    </div>
  );
}

function Problems({ problems }) {
  return problems.map((p) => (
    <p key={p.path + p.message} className="field-error small" role="alert">
      {p.message}
    </p>
  ));
}

function Frequency({ value, onChange, problems }) {
  const { t } = useI18n();
  const on = Boolean(value);
  const ever = on && value.window_hours === null;
  return (
    <fieldset className="settings-group" data-testid="settings-frequency">
      <label className="settings-check">
        <input type="checkbox" checked={on} onChange={(e) => onChange(e.target.checked ? FREQUENCY : null)} data-testid="frequency-on" />
        {t('settings.frequencyOn')}
      </label>
      {on && (
        <div className="settings-line">
          <span>{t('settings.atMost')}</span>
          <input
            type="number" className="input input-sm settings-num" min={1} max={100} value={value.limit}
            onChange={(e) => onChange({ ...value, limit: Number(e.target.value) || 1 })}
            aria-label={t('settings.limit')} data-testid="frequency-limit"
          />
          <span>{t('settings.timesPer')}</span>
          <select className="input input-sm" value={value.per} onChange={(e) => onChange({ ...value, per: e.target.value })} aria-label={t('settings.per')} data-testid="frequency-per">
            {PER.map((p) => <option key={p} value={p}>{t(`settings.per.${p}`)}</option>)}
          </select>
          <select
            className="input input-sm" value={ever ? 'ever' : 'hours'}
            onChange={(e) => onChange({ ...value, window_hours: e.target.value === 'ever' ? null : 24 })}
            aria-label={t('settings.span')} data-testid="frequency-span"
          >
            <option value="hours">{t('settings.span.hours')}</option>
            <option value="ever">{t('settings.span.ever')}</option>
          </select>
          {!ever && (
            <>
              <input
                type="number" className="input input-sm settings-num" min={1} max={87600} value={value.window_hours ?? 24}
                onChange={(e) => onChange({ ...value, window_hours: Number(e.target.value) || 1 })}
                aria-label={t('settings.hours')} data-testid="frequency-hours"
              />
              <span>{t('settings.hoursUnit')}</span>
            </>
          )}
        </div>
      )}
      <p className="muted small">{t('settings.frequencyHint')}</p>
      <Problems problems={problems} />
    </fieldset>
  );
}

function SendWindow({ value, onChange, problems }) {
  const { t } = useI18n();
  const on = Boolean(value);
  const days = on ? value.days || DAYS : [];
  const toggleDay = (d) => {
    const next = days.includes(d) ? days.filter((x) => x !== d) : [...days, d].sort();
    onChange({ ...value, days: next });
  };
  const zones = on && value.timezone && !ZONES.includes(value.timezone) ? [value.timezone, ...ZONES] : ZONES;
  return (
    <fieldset className="settings-group" data-testid="settings-window">
      <label className="settings-check">
        <input type="checkbox" checked={on} onChange={(e) => onChange(e.target.checked ? WINDOW : null)} data-testid="window-on" />
        {t('settings.windowOn')}
      </label>
      {on && (
        <>
          <div className="settings-line" role="group" aria-label={t('settings.days')}>
            {DAYS.map((d) => (
              <label key={d} className="settings-day">
                <input type="checkbox" checked={days.includes(d)} onChange={() => toggleDay(d)} data-testid={`window-day-${d}`} />
                {t(`settings.day.${d}`)}
              </label>
            ))}
          </div>
          <div className="settings-line">
            <span>{t('settings.from')}</span>
            <input type="time" className="input input-sm" value={value.from} onChange={(e) => onChange({ ...value, from: e.target.value })} aria-label={t('settings.fromLabel')} data-testid="window-from" />
            <span>{t('settings.to')}</span>
            <input type="time" className="input input-sm" value={value.to} onChange={(e) => onChange({ ...value, to: e.target.value })} aria-label={t('settings.toLabel')} data-testid="window-to" />
          </div>
          <div className="settings-line">
            <span>{t('settings.timezone')}</span>
            <select className="input input-sm" value={value.timezone || DEFAULT_TIMEZONE} onChange={(e) => onChange({ ...value, timezone: e.target.value })} aria-label={t('settings.timezone')} data-testid="window-timezone">
              {zones.map((z) => <option key={z} value={z}>{z}</option>)}
            </select>
          </div>
        </>
      )}
      <p className="muted small">{t('settings.windowHint')}</p>
      <Problems problems={problems} />
    </fieldset>
  );
}
