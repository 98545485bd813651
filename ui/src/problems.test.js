import { describe, expect, it } from 'vitest';
import { hasProblems, mapProblem, parsePointer } from './problems.js';
import { docToFlow, edgeId } from './flowDoc.js';

const doc = {
  name: 'x',
  nodes: [
    { id: 'start', type: 'event.order_created', params: {} },
    { id: 'city', type: 'condition.visit_city', params: {} },
    { id: 'slack', type: 'action.slack', params: { text: '' } },
  ],
  edges: [{ from: 'start', to: 'city' }, { from: 'city', to: 'slack', branch: 'false' }],
};

describe('parsePointer', () => {
  it('splits and unescapes', () => {
    expect(parsePointer('/nodes/2/params/a~1b~0c')).toEqual(['nodes', '2', 'params', 'a/b~c']);
    expect(parsePointer('')).toEqual([]);
    expect(parsePointer('/')).toEqual([]);
    expect(parsePointer('nodes/1')).toEqual(['nodes', '1']);
  });
});

describe('mapProblem', () => {
  const problem = {
    type: 'about:blank',
    title: 'Invalid flow',
    status: 422,
    errors: [
      { path: '/nodes/2/params/text', message: 'Обязательное поле' },
      { path: '/nodes/2/params/text', message: 'Неизвестная переменная {clinet_name}' },
      { path: '/nodes/2/params/headers/X-Token', message: 'must be a string' },
      { path: '/nodes/1', message: 'condition.event_data needs event.custom' },
      { path: '/nodes/1/type', message: 'unknown type' },
      { path: '/edges/1', message: 'branch must be true or false' },
      { path: '/name', message: 'Название не может быть пустым' },
      { path: '/', message: 'Нужно хотя бы одно действие' },
      { path: '/nodes/9/params/x', message: 'out of range index' },
      { path: '/enabled', message: 'secrets are placeholders' },
    ],
  };
  const m = mapProblem(problem, doc);

  it('puts field errors on the node named by its index, as an rjsf error schema', () => {
    expect(m.nodes.slack.fields).toEqual({
      text: { __errors: ['Обязательное поле', 'Неизвестная переменная {clinet_name}'] },
      headers: { 'X-Token': { __errors: ['must be a string'] } },
    });
    expect(m.nodes.slack.messages).toEqual([]);
  });

  it('puts node-level errors on the node', () => {
    expect(m.nodes.city.messages).toEqual(['condition.event_data needs event.custom', 'unknown type']);
    expect(m.nodes.start).toBeUndefined();
  });

  it('puts edge errors on the edge with the React Flow id', () => {
    const { edges } = docToFlow(doc);
    expect(Object.keys(m.edges)).toEqual([edgeId('city', 'slack', 'false')]);
    expect(edges.map((e) => e.id)).toContain(edgeId('city', 'slack', 'false'));
  });

  it('sends /, /name, unknown indexes and other paths to the banner', () => {
    expect(m.name).toEqual(['Название не может быть пустым']);
    expect(m.banner.map((b) => b.path)).toEqual(['/name', '/', '/nodes/9/params/x', '/enabled']);
  });

  it('understands the /flow prefix of the dry-run endpoint', () => {
    const t = mapProblem({ errors: [{ path: '/flow/nodes/2/params/text', message: 'm' }, { path: '/flow/edges/0', message: 'e' }] }, doc);
    expect(t.nodes.slack.fields).toEqual({ text: { __errors: ['m'] } });
    expect(Object.keys(t.edges)).toEqual([edgeId('start', 'city')]);
  });

  it('a problem without errors is one banner line with its detail', () => {
    const only = mapProblem({ title: 'Conflict', status: 409, detail: 'version mismatch' }, doc);
    expect(only.banner).toEqual([{ path: '', message: 'version mismatch' }]);
    expect(hasProblems(only)).toBe(true);
    expect(hasProblems(mapProblem(null, doc))).toBe(false);
  });
});
