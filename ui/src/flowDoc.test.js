import { describe, expect, it } from 'vitest';
import {
  autoLayout,
  branchKeys,
  connectionToEdge,
  createsCycle,
  docToFlow,
  flowToDoc,
  freshId,
  isBranching,
  kindOf,
  maskSecrets,
  missingSecretsByNode,
} from './flowDoc.js';
import { actionPart, applyPreset, triggerPart } from './presetParts.js';

const doc = {
  format: 'automation-flow/1',
  id: 'f1',
  name: 'Напоминание о сделке',
  enabled: true,
  version: 3,
  nodes: [
    { id: 'start', type: 'event.order_days_since_created', version: 1, params: { days: 3 }, position: { x: 0, y: 0 } },
    { id: 'new', type: 'condition.order_status', version: 1, params: { operator: 'in', value: ['Новая'] }, position: { x: 10, y: 150 } },
    { id: 'task', type: 'action.crm_task', version: 1, params: { crm: 'amocrm', text: 'Позвонить {client_name}' }, position: { x: -120, y: 300 } },
    { id: 'late', type: 'action.slack', version: 2, params: { text: 'x', webhook_url: '********' }, position: { x: 200, y: 300 }, notes: 'kept' },
    { id: 'wait', type: 'flow.delay', version: 1, params: { amount: 1, unit: 'days' }, position: { x: 0, y: 450 } },
  ],
  edges: [
    { from: 'start', to: 'new' },
    { from: 'new', to: 'task', branch: 'true' },
    { from: 'new', to: 'late', branch: 'false' },
    { from: 'task', to: 'wait' },
  ],
};

describe('document <-> React Flow', () => {
  it('round trip keeps ids, types, versions, params, positions, branches and extra fields', () => {
    const { nodes, edges } = docToFlow(doc);
    const base = { ...doc };
    delete base.nodes;
    delete base.edges;
    expect(flowToDoc(base, nodes, edges)).toEqual(doc);
  });

  it('maps node kinds to React Flow node types and branches to handles', () => {
    const { nodes, edges } = docToFlow(doc);
    expect(nodes.map((n) => n.type)).toEqual(['event', 'condition', 'action', 'action', 'flow']);
    expect(edges.find((e) => e.target === 'task').sourceHandle).toBe('true');
    expect(edges.find((e) => e.target === 'late').sourceHandle).toBe('false');
    expect(edges.find((e) => e.source === 'start').sourceHandle).toBeUndefined();
  });

  it('an edge from a condition with no branch stays without branch (default true) and uses the "true" handle', () => {
    const d = { ...doc, edges: [{ from: 'start', to: 'new' }, { from: 'new', to: 'task' }] };
    const { nodes, edges } = docToFlow(d);
    expect(edges[1].sourceHandle).toBe('true');
    expect(flowToDoc({}, nodes, edges).edges).toEqual(d.edges);
  });

  it('lays out nodes that have no position, in layers from the event', () => {
    const laid = autoLayout(
      [{ id: 'a' }, { id: 'b' }, { id: 'c' }, { id: 'd', position: { x: 5, y: 6 } }],
      [{ from: 'a', to: 'b' }, { from: 'b', to: 'c' }],
    );
    expect(laid[0].position.y).toBeLessThan(laid[1].position.y);
    expect(laid[1].position.y).toBeLessThan(laid[2].position.y);
    expect(laid[3].position).toEqual({ x: 5, y: 6 });
  });

  it('survives a cycle in an imported document', () => {
    const laid = autoLayout([{ id: 'a' }, { id: 'b' }], [{ from: 'a', to: 'b' }, { from: 'b', to: 'a' }]);
    expect(laid).toHaveLength(2);
  });

  it('a new edge from the "false" handle is saved with branch "false"', () => {
    const { nodes, edges } = docToFlow({ nodes: doc.nodes.slice(0, 3), edges: [{ from: 'start', to: 'new' }] });
    const e = connectionToEdge(nodes, edges, { source: 'new', target: 'task', sourceHandle: 'false' });
    expect(flowToDoc({}, nodes, [...edges, e]).edges[1]).toEqual({ from: 'new', to: 'task', branch: 'false' });
  });
});

describe('connections', () => {
  const { nodes, edges } = docToFlow(doc);
  it('rejects edges into the event, self loops, cycles and duplicates', () => {
    expect(connectionToEdge(nodes, edges, { source: 'task', target: 'start' })).toBeNull();
    expect(connectionToEdge(nodes, edges, { source: 'task', target: 'task' })).toBeNull();
    expect(connectionToEdge(nodes, edges, { source: 'wait', target: 'new' })).toBeNull();
    expect(connectionToEdge(nodes, edges, { source: 'new', target: 'task', sourceHandle: 'true' })).toBeNull();
  });
  it('allows a second branch to the same target', () => {
    const e = connectionToEdge(nodes, edges, { source: 'new', target: 'wait', sourceHandle: 'false' });
    expect(e).toMatchObject({ source: 'new', target: 'wait', sourceHandle: 'false', data: { branch: 'false' } });
  });
  it('detects cycles', () => {
    expect(createsCycle(edges, 'wait', 'start')).toBe(true);
    expect(createsCycle(edges, 'late', 'wait')).toBe(false);
  });
});

describe('ids and kinds', () => {
  it('freshId is readable and unique', () => {
    expect(freshId('action.slack', [])).toBe('slack');
    expect(freshId('action.slack', ['slack', 'slack_2'])).toBe('slack_3');
    expect(freshId('action.slack', new Set(['slack']))).toBe('slack_2');
  });
  it('kindOf reads the prefix', () => {
    expect(kindOf('event.custom')).toBe('event');
    expect(kindOf('flow.delay')).toBe('flow');
    expect(kindOf('weird')).toBe('action');
  });
});

describe('presets', () => {
  const { nodes, edges } = docToFlow(doc);

  it('trigger part = event + conditions chained from it, with their edges', () => {
    const part = triggerPart(nodes, edges);
    expect(part.nodes.map((n) => n.id)).toEqual(['start', 'new']);
    expect(part.edges).toEqual([{ from: 'start', to: 'new' }]);
  });

  it('action part = one node', () => {
    const part = actionPart(nodes.find((n) => n.id === 'task'));
    expect(part.nodes).toHaveLength(1);
    expect(part.edges).toEqual([]);
    expect(part.nodes[0].params.text).toBe('Позвонить {client_name}');
  });

  it('an action preset is copied with a fresh id and its own params object', () => {
    const preset = { id: 'p1', kind: 'action', nodes: [{ id: 'task', type: 'action.crm_task', version: 1, params: { text: 'a' }, position: { x: 9, y: 9 } }], edges: [] };
    const res = applyPreset(nodes, edges, preset, { x: 500, y: 500 });
    expect(res.added).toEqual(['crm_task']);
    const added = res.nodes.find((n) => n.id === 'crm_task');
    expect(added.position).toEqual({ x: 500, y: 500 });
    expect(added.data.params).toEqual({ text: 'a' });
    expect(added.data.params).not.toBe(preset.nodes[0].params);
    expect(res.replacedEvent).toBeNull();
    expect(res.nodes).toHaveLength(nodes.length + 1);
    // ids stay unique when the same preset is applied twice
    const again = applyPreset(res.nodes, res.edges, preset);
    expect(again.added).toEqual(['crm_task_2']);
  });

  it('a trigger preset gets fresh ids, keeps its inner edges and replaces the existing event', () => {
    const preset = {
      id: 'p2',
      kind: 'trigger',
      nodes: [
        { id: 'start', type: 'event.visit_created', version: 1, params: {}, position: { x: 0, y: 0 } },
        { id: 'city', type: 'condition.visit_city', version: 1, params: { operator: 'equals', value: 'Москва' }, position: { x: 0, y: 150 } },
      ],
      edges: [{ from: 'start', to: 'city' }],
    };
    const res = applyPreset(nodes, edges, preset, { x: 0, y: 0 });
    const ids = res.nodes.map((n) => n.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(res.replacedEvent).toBe('start');
    const events = res.nodes.filter((n) => n.type === 'event');
    expect(events).toHaveLength(1);
    expect(events[0].data.type).toBe('event.visit_created');
    expect(res.added).toHaveLength(2);
    expect(res.added).not.toContain('start');
    const [ev, city] = res.added;
    expect(res.edges.some((e) => e.source === ev && e.target === city)).toBe(true);
    // what followed the old event now follows the preset's last condition
    expect(res.edges.some((e) => e.source === city && e.target === 'new' && e.data.branch === 'true')).toBe(true);
    expect(res.edges.some((e) => e.source === 'start' || e.target === 'start')).toBe(false);
  });
});

describe('server-only fields', () => {
  it('are not sent back', () => {
    const { nodes, edges } = docToFlow(doc);
    const out = flowToDoc({ ...doc, stats: {}, needs_secrets: [], created_at: 'x', updated_at: 'y', event_type: 'e' }, nodes, edges);
    for (const k of ['stats', 'needs_secrets', 'created_at', 'updated_at', 'event_type']) expect(out).not.toHaveProperty(k);
  });
  it('needs_secrets pointers name nodes and fields', () => {
    expect(missingSecretsByNode({ ...doc, needs_secrets: ['/nodes/3/params/webhook_url', '/nodes/99/params/x'] })).toEqual({ late: ['webhook_url'] });
    expect(missingSecretsByNode(doc)).toEqual({});
  });
});

describe('maskSecrets', () => {
  it('replaces x-secret params by the placeholder', () => {
    const catalog = { 'action.slack': { schema: { properties: { webhook_url: { 'x-secret': true }, text: {} } } } };
    const d = { nodes: [{ id: 's', type: 'action.slack', params: { text: 't', webhook_url: 'https://hooks/x' } }] };
    expect(maskSecrets(d, catalog).nodes[0].params).toEqual({ text: 't', webhook_url: '********' });
    expect(d.nodes[0].params.webhook_url).toBe('https://hooks/x');
  });
});

describe('the wait for an event branches like a condition', () => {
  const journey = {
    nodes: [
      { id: 'start', type: 'event.order_created', params: {}, position: { x: 0, y: 0 } },
      { id: 'pay', type: 'flow.wait_event', params: { event: 'order_status_changed' }, position: { x: 0, y: 100 } },
      { id: 'thanks', type: 'action.webhook', params: {}, position: { x: 0, y: 200 } },
      { id: 'remind', type: 'action.webhook', params: {}, position: { x: 200, y: 200 } },
    ],
    edges: [{ from: 'start', to: 'pay' }, { from: 'pay', to: 'thanks', branch: 'true' }],
  };
  it('labels its outputs «дождались» / «не дождались» and keeps the branch of a new edge', () => {
    expect(isBranching('flow.wait_event')).toBe(true);
    expect(isBranching('flow.delay')).toBe(false);
    expect(branchKeys('flow.wait_event')).toEqual({ true: 'node.came', false: 'node.timedOut' });
    const { nodes, edges } = docToFlow(journey);
    expect(edges[1].sourceHandle).toBe('true');
    const e = connectionToEdge(nodes, edges, { source: 'pay', target: 'remind', sourceHandle: 'false' });
    expect(flowToDoc({}, nodes, [...edges, e]).edges[2]).toEqual({ from: 'pay', to: 'remind', branch: 'false' });
  });
});
