// The auto-connect rule: from the selected node, else from the end of the chain, only when valid.
import { describe, expect, it } from 'vitest';
import { anchorFor, autoEdge, chainEnd } from './autoConnect.js';

const n = (id, type, selected = false) => ({ id, type: type.split('.')[0], position: { x: 0, y: 0 }, data: { type, params: {} }, selected });
const e = (source, target) => ({ id: `e:${source}->${target}`, source, target, data: {} });

describe('auto-connect', () => {
  const nodes = [n('start', 'event.order_created'), n('big', 'condition.order_price'), n('slack', 'action.slack'), n('lonely', 'action.telegram')];
  const edges = [e('start', 'big'), e('big', 'slack')];

  it('takes the selected node first', () => {
    const sel = nodes.map((x) => (x.id === 'big' ? { ...x, selected: true } : x));
    expect(anchorFor(sel, edges).id).toBe('big');
  });

  it('takes the deepest leaf reachable from the event when nothing is selected', () => {
    expect(chainEnd(nodes, edges).id).toBe('slack');
    expect(anchorFor(nodes, edges).id).toBe('slack');
  });

  it('takes the event of a canvas holding only the event, and nothing on an empty canvas', () => {
    expect(chainEnd([nodes[0]], []).id).toBe('start');
    expect(chainEnd([], [])).toBeNull();
  });

  it('follows the roots when there is no event yet', () => {
    expect(chainEnd([n('a', 'condition.visit_city'), n('b', 'action.slack')], [e('a', 'b')]).id).toBe('b');
  });

  it('connects a condition by its «да» branch and refuses an invalid connection', () => {
    const all = [...nodes, n('new', 'action.sms')];
    expect(autoEdge(all, edges, all[1], 'new')).toMatchObject({ source: 'big', target: 'new', sourceHandle: 'true', data: { branch: 'true' } });
    expect(autoEdge(all, edges, all[2], 'new')).toMatchObject({ source: 'slack', target: 'new' });
    // into an event, into itself, or closing a cycle: no edge
    expect(autoEdge(all, edges, all[2], 'start')).toBeNull();
    expect(autoEdge(all, edges, all[2], 'slack')).toBeNull();
    expect(autoEdge(all, edges, all[2], 'big')).toBeNull();
    expect(autoEdge(all, edges, null, 'new')).toBeNull();
  });

  it('survives a cycle drawn by hand', () => {
    expect(() => chainEnd(nodes, [...edges, e('slack', 'big')])).not.toThrow();
  });
});
