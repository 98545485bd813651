// «Режим запуска» and «Условие выхода» of the «Настройки» tab (settings.run_mode, settings.exit_event;
// SPEC §11, issue #20): one active run per client or order, a restart, and the event that ends the runs.
import { useI18n } from '../i18n.js';

const MODES = ['parallel', 'single', 'restart'];
const EXIT_TYPES = ['event.order_status_changed', 'event.order_created', 'event.custom', 'event.visit_created'];
const GROUPS = ['paid', 'in_work', 'cancelled'];

export function RunMode({ value, onChange, Problems, problems }) {
  const { t } = useI18n();
  const mode = value?.mode || 'parallel';
  const set = (next) => onChange(next.mode === 'parallel' ? null : next);
  return (
    <fieldset className="settings-group" data-testid="settings-run-mode">
      <legend className="settings-legend">{t('journey.runMode')}</legend>
      <div className="settings-line">
        <select className="input input-sm" value={mode} onChange={(e) => set({ per: value?.per || 'client', mode: e.target.value })} aria-label={t('journey.runMode')} data-testid="run-mode">
          {MODES.map((m) => <option key={m} value={m}>{t(`journey.mode.${m}`)}</option>)}
        </select>
        {mode !== 'parallel' && (
          <select className="input input-sm" value={value.per || 'client'} onChange={(e) => set({ ...value, per: e.target.value })} aria-label={t('journey.per')} data-testid="run-mode-per">
            <option value="client">{t('journey.per.client')}</option>
            <option value="order">{t('journey.per.order')}</option>
          </select>
        )}
      </div>
      <p className="muted small">{t(`journey.modeHint.${mode}`)}</p>
      <Problems problems={problems} />
    </fieldset>
  );
}

export function ExitEvent({ value, onChange, Problems, problems }) {
  const { t } = useI18n();
  const type = value?.type || '';
  const params = value?.params || {};
  const setParams = (next) => onChange({ ...value, params: Object.fromEntries(Object.entries(next).filter(([, v]) => v !== '' && v !== undefined)) });
  const statuses = (params.to || []).join(', ');
  return (
    <fieldset className="settings-group" data-testid="settings-exit-event">
      <legend className="settings-legend">{t('journey.exit')}</legend>
      <div className="settings-line">
        <select className="input input-sm" value={type} onChange={(e) => onChange(e.target.value ? { type: e.target.value, params: {} } : null)} aria-label={t('journey.exitType')} data-testid="exit-type">
          <option value="">{t('journey.exit.none')}</option>
          {EXIT_TYPES.map((x) => <option key={x} value={x}>{t(`journey.exit.${x}`)}</option>)}
        </select>
        {type === 'event.order_status_changed' && (
          <>
            <select className="input input-sm" value={params.to_group || ''} onChange={(e) => setParams({ ...params, to_group: e.target.value })} aria-label={t('journey.exitGroup')} data-testid="exit-group">
              <option value="">{t('journey.group.any')}</option>
              {GROUPS.map((g) => <option key={g} value={g}>{t(`journey.group.${g}`)}</option>)}
            </select>
            <input
              className="input input-sm" value={statuses} placeholder={t('journey.exitStatuses')} aria-label={t('journey.exitStatuses')} data-testid="exit-statuses"
              onChange={(e) => setParams({ ...params, to: e.target.value.split(',').map((x) => x.trim()).filter(Boolean) })}
            />
          </>
        )}
        {type === 'event.custom' && (
          <input className="input input-sm" value={params.name || ''} placeholder={t('journey.exitName')} aria-label={t('journey.exitName')} data-testid="exit-name" onChange={(e) => setParams({ ...params, name: e.target.value })} />
        )}
      </div>
      <p className="muted small">{t('journey.exitHint')}</p>
      <Problems problems={problems} />
    </fieldset>
  );
}
