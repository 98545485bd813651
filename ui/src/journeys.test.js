// The A/B split's edges and variants, and the condition group's list, as the editor handles them.
import { describe, expect, it } from 'vitest';
import { itemTypes } from './components/ConditionList.jsx';
import { freshKey, shares } from './components/VariantsField.jsx';
import { connectionToEdge, docToFlow, flowToDoc, nextVariant, renameVariantEdges } from './flowDoc.js';
import { formSchemas } from './schemaUi.js';
import { nodeSummary } from './summaries.js';

const split = (variants = [{ key: 'A', weight: 50 }, { key: 'B', weight: 50 }]) => ({
  id: 'ab',
  data: { type: 'flow.split', params: { variants } },
});
const action = (id) => ({ id, data: { type: 'action.slack', params: {} } });

describe('split edges', () => {
  it('take the next unused variant, then the first again', () => {
    const nodes = [split(), action('a'), action('b'), action('c')];
    const first = connectionToEdge(nodes, [], { source: 'ab', target: 'a' });
    expect(first).toMatchObject({ source: 'ab', target: 'a', data: { branch: 'A' } });
    const second = connectionToEdge(nodes, [first], { source: 'ab', target: 'b' });
    expect(second.data.branch).toBe('B');
    expect(nextVariant(nodes[0], [first, second])).toBe('A');
    expect(connectionToEdge(nodes, [first, second], { source: 'ab', target: 'a' })).toBeNull(); // A → a again
    expect(connectionToEdge(nodes, [first], { source: 'ab', target: 'a', branch: 'B' }).data.branch).toBe('B');
  });

  it('round-trip through the document with their variant as the branch', () => {
    const doc = {
      name: 'AB',
      nodes: [
        { id: 'start', type: 'event.order_created', params: {}, position: { x: 0, y: 0 } },
        { id: 'ab', type: 'flow.split', params: { variants: [{ key: 'A', weight: 1 }, { key: 'B', weight: 1 }] }, position: { x: 0, y: 100 } },
        { id: 'a', type: 'action.slack', params: {}, position: { x: 0, y: 200 } },
      ],
      edges: [{ from: 'start', to: 'ab' }, { from: 'ab', to: 'a', branch: 'B' }],
    };
    const { nodes, edges } = docToFlow(doc);
    expect(edges[1].sourceHandle).toBeUndefined();
    expect(flowToDoc(doc, nodes, edges).edges).toEqual(doc.edges);
  });

  it('follow a renamed variant, not a removed one', () => {
    const edges = [
      { id: 'e1', source: 'ab', target: 'a', data: { branch: 'A' } },
      { id: 'e2', source: 'ab', target: 'b', data: { branch: 'B' } },
      { id: 'e3', source: 'x', target: 'b', data: { branch: 'A' } },
    ];
    const out = renameVariantEdges(edges, 'ab', ['A', 'B'], ['Скидка', 'B']);
    expect(out.map((e) => e.data.branch)).toEqual(['Скидка', 'B', 'A']);
    expect(out[0].id).toBe('e:ab->a:Скидка');
    expect(renameVariantEdges(edges, 'ab', ['A', 'B'], ['A'])).toBe(edges);
  });
});

describe('variants', () => {
  it('show each share of the sum and name a new one with a free letter', () => {
    expect(shares([{ weight: 50 }, { weight: 50 }])).toEqual(['50 %', '50 %']);
    expect(shares([{ weight: 60 }, { weight: 30 }, { weight: 5 }, { weight: 5 }])).toEqual(['60 %', '30 %', '5 %', '5 %']);
    expect(shares([{ weight: 1 }, { weight: 2 }])).toEqual(['33 %', '67 %']);
    expect(shares([{ weight: 1 }, { weight: 0 }])).toEqual(['100 %', '0 %']);
    expect(freshKey([{ key: 'A' }, { key: 'B' }])).toBe('C');
    expect(freshKey([{ key: 'B' }])).toBe('A');
  });

  it('summarise the cards', () => {
    const def = { type: 'flow.split', kind: 'flow', schema: {} };
    expect(nodeSummary(def, { variants: [{ key: 'A', weight: 3 }, { key: 'B', weight: 1 }] }, 'ru')).toBe('A 75 % · B 25 %');
    const group = { type: 'condition.group', kind: 'condition', schema: {} };
    expect(nodeSummary(group, { mode: 'any', conditions: [{}, {}] }, 'ru')).toBe('любое из 2');
    expect(nodeSummary(group, { mode: 'none', conditions: [{}] }, 'en')).toBe('none of 1');
  });
});

describe('condition group', () => {
  const nodes = [
    { type: 'condition.visit_city', kind: 'condition' },
    { type: 'condition.group', kind: 'condition' },
    { type: 'action.slack', kind: 'action' },
  ];
  it('offers every condition, and a group only above the third level', () => {
    expect(itemTypes(nodes, 1).map((n) => n.type)).toEqual(['condition.visit_city', 'condition.group']);
    expect(itemTypes(nodes, 2).map((n) => n.type)).toEqual(['condition.visit_city', 'condition.group']);
    expect(itemTypes(nodes, 3).map((n) => n.type)).toEqual(['condition.visit_city']);
  });

  it('edits its list and a split its variants with their own fields', () => {
    const { uiSchema } = formSchemas(
      { type: 'object', properties: { conditions: { type: 'array', 'x-widget': 'conditions' }, variants: { type: 'array', 'x-widget': 'variants' } } },
      'ru',
    );
    expect(uiSchema.conditions['ui:field']).toBe('conditions');
    expect(uiSchema.variants['ui:field']).toBe('variants');
  });
});
