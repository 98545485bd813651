import { describe, expect, it } from 'vitest';
import { withSetting } from './ScenarioSettings.jsx';

describe('withSetting', () => {
  it('sets and removes one setting, leaving no empty object behind', () => {
    const frequency = { per: 'client', limit: 1, window_hours: 24 };
    expect(withSetting(undefined, 'frequency', frequency)).toEqual({ frequency });
    const both = withSetting({ frequency }, 'send_window', { from: '09:00', to: '21:00' });
    expect(Object.keys(both)).toEqual(['frequency', 'send_window']);
    expect(withSetting(both, 'frequency', null)).toEqual({ send_window: { from: '09:00', to: '21:00' } });
    expect(withSetting({ frequency }, 'frequency', null)).toBeUndefined();
  });
});
