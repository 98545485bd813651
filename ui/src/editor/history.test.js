// The undo/redo stack: one step per change, a run of edits to one field is one step, redo is lost
// after a new change, the stack is bounded.
import { describe, expect, it } from 'vitest';
import { emptyHistory, endRun, record, redo, snapshotOf, undo } from './history.js';

const s = (name) => ({ nodes: [{ id: name }], edges: [] });

describe('history stack', () => {
  it('undoes and redoes steps in order', () => {
    let h = record(emptyHistory, s('a'));
    h = record(h, s('b'));
    let shown;
    [h, shown] = undo(h, s('c'));
    expect(shown).toEqual(s('b'));
    [h, shown] = undo(h, shown);
    expect(shown).toEqual(s('a'));
    [h, shown] = undo(h, shown);
    expect(shown).toBeNull();
    [h, shown] = redo(h, s('a'));
    expect(shown).toEqual(s('b'));
    [h, shown] = redo(h, shown);
    expect(shown).toEqual(s('c'));
    [h, shown] = redo(h, shown);
    expect(shown).toBeNull();
    expect(h.past).toEqual([s('a'), s('b')]);
  });

  it('merges a run of edits with the same key into one step', () => {
    let h = record(emptyHistory, s('before typing'), 'params:slack:text');
    h = record(h, s('after one letter'), 'params:slack:text');
    h = record(h, s('after two letters'), 'params:slack:text');
    expect(h.past).toEqual([s('before typing')]);
    h = record(h, s('before the next field'), 'params:slack:webhook_url');
    expect(h.past).toHaveLength(2);
    h = record(h, s('a move'));
    h = record(h, s('again the text'), 'params:slack:text');
    expect(h.past).toHaveLength(4);
  });

  it('starts a new step for the same field after an undo', () => {
    let h = record(emptyHistory, s('a'), 'params:n:value');
    [h] = undo(h, s('b'));
    h = record(h, s('a2'), 'params:n:value');
    h = record(h, s('a3'), 'params:n:value');
    expect(h.past).toEqual([s('a2')]);
  });

  it('starts a new step for the same field once it lost focus', () => {
    let h = record(emptyHistory, s('a'), 'params:n:text');
    h = endRun(h);
    h = record(h, s('b'), 'params:n:text');
    h = record(h, s('c'), 'params:n:text');
    expect(h.past).toEqual([s('a'), s('b')]);
    expect(endRun(emptyHistory)).toBe(emptyHistory);
  });

  it('forgets what could be redone once a new change is recorded', () => {
    let h = record(emptyHistory, s('a'));
    [h] = undo(h, s('b'));
    expect(h.future).toHaveLength(1);
    h = record(h, s('a'));
    expect(h.future).toEqual([]);
  });

  it('keeps at most `limit` steps, dropping the oldest', () => {
    let h = emptyHistory;
    for (let i = 0; i < 7; i += 1) h = record(h, s(String(i)), null, 5);
    expect(h.past.map((x) => x.nodes[0].id)).toEqual(['2', '3', '4', '5', '6']);
  });

  it('leaves React Flow drag state out of a snapshot', () => {
    const snap = snapshotOf([{ id: 'a', dragging: true, position: { x: 1, y: 2 } }], []);
    expect(snap.nodes).toEqual([{ id: 'a', position: { x: 1, y: 2 } }]);
  });
});
