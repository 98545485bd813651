import { describe, expect, it } from 'vitest';
import { stepErrorText } from './stepErrors.js';

describe('stepErrorText', () => {
  it('says the usual run-step errors in Russian', () => {
    expect(stepErrorText('webhook: HTTP 500 from hooks.example.com', 'ru')).toBe('webhook: hooks.example.com ответил ошибкой HTTP 500');
    expect(stepErrorText('slack: timed out talking to hooks.slack.com', 'ru')).toBe('slack: hooks.slack.com не ответил вовремя');
    expect(stepErrorText('127.0.0.1 is a loopback address; add it to AUTOMATION_OUTBOUND_ALLOWLIST to allow it', 'ru')).toBe(
      'Отправка на 127.0.0.1 запрещена: это внутренний адрес. Разрешить можно в AUTOMATION_OUTBOUND_ALLOWLIST',
    );
    expect(
      stepErrorText('hook.test resolves to 10.0.0.5, a private address; add hook.test or 10.0.0.5 to AUTOMATION_OUTBOUND_ALLOWLIST to allow it', 'ru'),
    ).toBe('Отправка на hook.test запрещена: он ведёт на внутренний адрес 10.0.0.5. Разрешить можно в AUTOMATION_OUTBOUND_ALLOWLIST');
    expect(stepErrorText("the connection 'abc' no longer exists", 'ru')).toBe('Подключения «abc» больше нет — выберите другое');
  });

  it('keeps the Russian of the engine and drops its English aside', () => {
    expect(stepErrorText('у клиента нет email (client has no email)', 'ru')).toBe('у клиента нет email');
  });

  it('says a given-up retry with its cause', () => {
    expect(stepErrorText('webhook: cannot connect to a.example (unavailable for 6.5 h: gave up)', 'ru')).toBe(
      'webhook: не удалось подключиться к a.example (недоступен 6.5 ч — попытки прекращены)',
    );
  });

  it('shows English as stored, and an unknown error as it is', () => {
    expect(stepErrorText('webhook: HTTP 500 from hooks.example.com', 'en')).toBe('webhook: HTTP 500 from hooks.example.com');
    expect(stepErrorText('something new', 'ru')).toBe('something new');
    expect(stepErrorText(null, 'ru')).toBe('');
  });
});
