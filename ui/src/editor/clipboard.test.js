// Copy/paste: fresh ids, the edges between the copied nodes, an offset, and the source of secrets.
import { describe, expect, it } from 'vitest';
import { copyPart, PASTE_OFFSET, pasteClip } from './clipboard.js';

const node = (id, type, extra) => ({
  id,
  type: type.split('.')[0],
  position: { x: 10, y: 20 },
  data: { type, params: { text: id, webhook_url: '********' }, ...(extra ? { extra } : {}) },
  selected: true,
});

describe('clipboard', () => {
  const nodes = [{ ...node('start', 'event.order_created') }, node('big', 'condition.order_price'), node('slack', 'action.slack')];
  const edges = [
    { id: 'e:start->big', source: 'start', target: 'big', data: {} },
    { id: 'e:big->slack:true', source: 'big', target: 'slack', sourceHandle: 'true', data: { branch: 'true' } },
  ];

  it('copies the selected nodes but not the event, with the edges between them', () => {
    const clip = copyPart(nodes, edges, 'flow1');
    expect(clip.nodes.map((n) => n.id)).toEqual(['big', 'slack']);
    expect(clip.edges.map((e) => e.id)).toEqual(['e:big->slack:true']);
    expect(copyPart(nodes.map((n) => ({ ...n, selected: n.id === 'start' })), edges, 'f')).toBeNull();
  });

  it('pastes with fresh ids, offset, selected, and the copy names its stored source', () => {
    const clip = copyPart(nodes, edges, 'flow1');
    const out = pasteClip(nodes, edges, clip, 2);
    expect(out.added).toEqual(['order_price', 'slack_2']);
    const pasted = out.nodes.filter((n) => out.added.includes(n.id));
    expect(pasted.map((n) => n.position)).toEqual([{ x: 10 + 2 * PASTE_OFFSET, y: 20 + 2 * PASTE_OFFSET }, { x: 10 + 2 * PASTE_OFFSET, y: 20 + 2 * PASTE_OFFSET }]);
    expect(pasted[1].data.params).toEqual({ text: 'slack', webhook_url: '********' });
    expect(pasted[1].data.extra).toEqual({ copy_of: { flow: 'flow1', node: 'slack' } });
    expect(out.nodes.filter((n) => n.selected).map((n) => n.id)).toEqual(out.added);
    expect(out.edges.at(-1)).toMatchObject({ id: 'e:order_price->slack_2:true', source: 'order_price', target: 'slack_2', sourceHandle: 'true' });
    // the clipboard is not changed by pasting: a second paste is independent
    pasted[1].data.params.text = 'changed';
    expect(clip.nodes[1].data.params.text).toBe('slack');
  });

  it('keeps a template source, or a copy source, over the scenario', () => {
    const fromPreset = { ...node('tpl', 'action.slack', { preset: { id: 'p1', node: 'n' } }) };
    const fromCopy = { ...node('cp', 'action.slack', { copy_of: { flow: 'other', node: 'x' } }) };
    const out = pasteClip([], [], copyPart([fromPreset, fromCopy], [], 'flow1'), 1);
    expect(out.nodes.map((n) => n.data.extra)).toEqual([{ preset: { id: 'p1', node: 'n' } }, { copy_of: { flow: 'other', node: 'x' } }]);
  });

  it('names no source for a copy out of an unsaved scenario (its secrets are typed values)', () => {
    const out = pasteClip([], [], copyPart([node('slack', 'action.slack')], [], null), 1);
    expect(out.nodes[0].data.extra).toBeUndefined();
  });
});
