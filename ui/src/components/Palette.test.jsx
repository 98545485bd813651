// The palette shows node types in the order of the server's catalog: the UI keeps no list of its own.
import fs from 'node:fs';
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { CatalogContext, groupByKind } from '../catalog.js';
import { Palette } from './Palette.jsx';

const node = (type, title = type) => ({ type, kind: type.split('.')[0], version: 1, title: { ru: title, en: title }, description: { ru: '', en: '' } });

/** The node types of the rendered palette, top to bottom. */
function paletteTypes(nodes) {
  const catalog = { nodes, byType: Object.fromEntries(nodes.map((n) => [n.type, n])), variables: [] };
  const html = renderToStaticMarkup(
    <CatalogContext.Provider value={catalog}>
      <Palette presets={[]} onAdd={() => {}} onAddPreset={() => {}} onDeletePreset={() => {}} />
    </CatalogContext.Provider>,
  );
  return [...html.matchAll(/data-testid="palette-((?:event|condition|action|flow|[a-z]+)\.[^"]+)"/g)].map((m) => m[1]);
}

describe('palette order', () => {
  it('follows the order the server sends, within each kind', () => {
    const server = ['event.custom', 'event.visit_created', 'condition.event_data', 'condition.visit_city', 'action.telegram', 'action.slack', 'flow.delay'];
    expect(paletteTypes(server.map((t) => node(t)))).toEqual(server);
  });

  it('puts a type unknown to the UI where the server puts it', () => {
    const server = ['event.visit_created', 'condition.visit_city', 'action.slack', 'action.zzz_new', 'action.telegram', 'flow.delay'];
    expect(paletteTypes(server.map((t) => node(t)))).toEqual(server);
    const g = groupByKind(server.map((t) => node(t)));
    expect(g.action.map((n) => n.type)).toEqual(['action.slack', 'action.zzz_new', 'action.telegram']);
  });

  it('keeps the sections События, Условия, Действия, Управление whatever order the kinds come in', () => {
    const server = ['flow.delay', 'action.slack', 'condition.visit_city', 'event.custom'];
    expect(paletteTypes(server.map((t) => node(t)))).toEqual(['event.custom', 'condition.visit_city', 'action.slack', 'flow.delay']);
    expect(Object.keys(groupByKind(server.map((t) => node(t))))).toEqual(['event', 'condition', 'action', 'flow']);
  });

  it('keeps the server order when filtering', () => {
    const server = [node('action.webhook', 'Webhook'), node('action.slack', 'Slack'), node('action.sms', 'SMS')];
    const g = groupByKind(server.filter((n) => n.type !== 'action.slack'));
    expect(g.action.map((n) => n.type)).toEqual(['action.webhook', 'action.sms']);
  });

  it('shows the shipped catalog (plugin.json, the order GET /api/v1/nodes answers) in the order of SPEC §3', () => {
    const manifest = JSON.parse(fs.readFileSync(new URL('../../../plugin.json', import.meta.url), 'utf8'));
    const g = groupByKind(manifest.nodes);
    expect(g.event.map((n) => n.type)).toEqual([
      'event.visit_created', 'event.order_created', 'event.order_status_changed',
      'event.order_days_since_created', 'event.order_days_since_paid', 'event.custom',
    ]);
    expect(g.condition.map((n) => n.type)).toEqual([
      'condition.visit_city', 'condition.visit_country', 'condition.visit_ip', 'condition.visit_referrer',
      'condition.visit_domain', 'condition.visit_landing_page', 'condition.visit_marker', 'condition.visit_utm',
      'condition.visit_roistat_param', 'condition.client_orders_count', 'condition.order_status',
      'condition.order_created_age', 'condition.order_paid_age', 'condition.order_price', 'condition.event_data',
      'condition.order_field', 'condition.client_field', 'condition.group',
    ]);
    expect(g.action.map((n) => n.type)).toEqual(['action.slack', 'action.webhook', 'action.sms', 'action.email', 'action.crm_task', 'action.telegram']);
    expect(g.flow.map((n) => n.type)).toEqual(['flow.delay', 'flow.split', 'flow.wait_event']);
  });
});
