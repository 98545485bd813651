import { describe, expect, it } from 'vitest';
import { jsonProblem, recordContext, recordKind, sampleContext, sampleGroups } from './tryout.js';

describe('jsonProblem', () => {
  it('accepts an object and says where a broken text is wrong', () => {
    expect(jsonProblem('{"order": {"id": "1"}}')).toBe(null);
    expect(jsonProblem('{"order": {"id": "1",}}')).toEqual({ key: 'tryout.badJson', vars: { line: 1, column: 22 } });
    expect(jsonProblem('{\n  "a": 1\n  "b": 2\n}')).toMatchObject({ key: 'tryout.badJson', vars: { line: 3 } });
    expect(jsonProblem('{"a": ')).toMatchObject({ key: 'tryout.badJson' });
    expect(jsonProblem('[1, 2]')).toEqual({ key: 'tryout.notObject' });
  });
});

describe('records and samples', () => {
  it('tests each event on its own kind of record', () => {
    expect(recordKind('event.order_status_changed')).toBe('order');
    expect(recordKind('event.visit_created')).toBe('visit');
    expect(recordKind('event.custom')).toBe('event');
  });

  it('builds the context of a stored order and of a custom event', () => {
    const order = { id: '7', price: 5, client: { name: 'Анна' }, visit: { id: 'v' } };
    expect(recordContext('order', order)).toEqual({ visit: { id: 'v' }, order: { id: '7', price: 5 }, client: { name: 'Анна' }, event: null });
    const event = { id: 'e', name: 'lead', data: { a: 1 }, client: null };
    expect(recordContext('event', event).event).toEqual({ id: 'e', meta_id: 'lead', data: { a: 1 } });
  });

  it('makes a context from the sample form per event type', () => {
    expect(sampleGroups('event.visit_created').map(([g]) => g)).toEqual(['visit', 'client']);
    const ctx = sampleContext('event.order_created', { order_id: '9', price: '15 000', client_name: 'Анна', email: '' });
    expect(ctx.order).toEqual({ id: '9', price: 15000, status: null });
    expect(ctx.client.email).toBe(null);
    expect(ctx.event).toBe(null);
    expect(sampleContext('event.custom', { event_name: 'lead', event_data: '{"x": 1}' }).event.data).toEqual({ x: 1 });
  });
});
