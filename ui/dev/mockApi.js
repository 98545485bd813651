// A small in-memory stand-in for the Flask API, for `MOCK_API=1 npm run dev` and UI screenshots
// while the server is being written. It is not shipped in the build and is not the contract:
// /work/shared/SPEC.md §7 is. Real schemas are read from ../plugin/schemas; the rest are stubs.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const schemaRoot = path.resolve(here, '../../plugin/schemas');

const STUBS = [
  ['event.visit_created', 'Новый визит', 'New visit', {}],
  ['event.order_created', 'Новая сделка', 'New deal', {}],
  ['event.order_status_changed', 'Смена статуса сделки', 'Deal status change', {
    to: { type: 'array', items: { type: 'string' }, title: 'Новый статус', 'x-title-en': 'New status', 'x-widget': 'status-list' },
    from: { type: 'array', items: { type: 'string' }, title: 'Прежний статус', 'x-title-en': 'Previous status', 'x-widget': 'status-list' },
  }],
  ['event.order_days_since_created', 'С момента создания сделки прошло N дней', 'N days since the deal was created', {
    days: { type: 'integer', minimum: 0, maximum: 3650, default: 3, title: 'Количество дней', 'x-title-en': 'Days' },
    catch_up_hours: { type: 'integer', minimum: 0, default: 24, title: 'Догонять за, часов', 'x-title-en': 'Catch up, hours' },
  }, ['days']],
  ['event.order_days_since_paid', 'С момента продажи по сделке прошло N дней', 'N days since the deal was paid', {
    days: { type: 'integer', minimum: 0, maximum: 3650, default: 3, title: 'Количество дней', 'x-title-en': 'Days' },
  }, ['days']],
  ['event.custom', 'Пользовательское событие', 'Custom event', {
    name: { type: 'string', title: 'Название события', 'x-title-en': 'Event name', description: 'Пусто — любое', 'x-description-en': 'Empty means any' },
  }],
  ['condition.client_orders_count', 'Количество заказов', 'Number of orders', {
    operator: { type: 'string', enum: ['eq', 'gt', 'lt', 'gte', 'lte', 'ne'], default: 'gt', title: 'Условие', 'x-title-en': 'Operator',
      'x-enum-titles': { ru: ['Равно', 'Больше', 'Меньше', 'Не меньше', 'Не больше', 'Не равно'], en: ['Equals', 'Greater than', 'Less than', 'At least', 'At most', 'Not equal'] } },
    value: { type: 'number', default: 0, title: 'Значение', 'x-title-en': 'Value' },
  }, ['operator', 'value']],
  ['condition.order_status', 'Статус', 'Status', {
    operator: { type: 'string', enum: ['in', 'not_in'], default: 'in', title: 'Условие', 'x-title-en': 'Operator',
      'x-enum-titles': { ru: ['Любой из', 'Ни один из'], en: ['Any of', 'None of'] } },
    value: { type: 'array', items: { type: 'string' }, title: 'Статусы', 'x-title-en': 'Statuses', 'x-widget': 'status-list' },
  }, ['operator', 'value']],
  ['action.email', 'Отправить письмо клиенту', 'Email the client', {
    smtp_host: { type: 'string', title: 'SMTP-сервер', 'x-title-en': 'SMTP server' },
    security: { type: 'string', enum: ['ssl', 'starttls', 'none'], default: 'ssl', title: 'Шифрование', 'x-title-en': 'Security',
      'x-enum-titles': { ru: ['SSL (465)', 'STARTTLS (587)', 'Без шифрования'], en: ['SSL (465)', 'STARTTLS (587)', 'None'] } },
    username: { type: 'string', title: 'Логин', 'x-title-en': 'Username' },
    password: { type: 'string', title: 'Пароль', 'x-title-en': 'Password', 'x-secret': true },
    from_email: { type: 'string', format: 'email', title: 'Адрес отправителя', 'x-title-en': 'From address' },
    subject: { type: 'string', title: 'Тема письма', 'x-title-en': 'Subject', 'x-template': true },
    html: { type: 'string', title: 'Текст письма', 'x-title-en': 'Body (HTML)', 'x-template': true, 'x-widget': 'html' },
  }, ['smtp_host', 'from_email', 'subject', 'html']],
  ['action.crm_task', 'Задача менеджеру в CRM', 'Task for a manager in the CRM', {
    crm: { type: 'string', enum: ['amocrm', 'bitrix24'], default: 'amocrm', title: 'CRM', 'x-title-en': 'CRM', 'x-enum-titles': { ru: ['amoCRM', 'Битрикс24'], en: ['amoCRM', 'Bitrix24'] } },
    base_url: { type: 'string', title: 'Адрес CRM', 'x-title-en': 'CRM URL' },
    token: { type: 'string', title: 'Токен', 'x-title-en': 'Token', 'x-secret': true },
    text: { type: 'string', title: 'Текст задачи', 'x-title-en': 'Task text', 'x-template': true, 'x-widget': 'textarea' },
    deadline_days: { type: 'integer', default: 1, title: 'Срок, дней', 'x-title-en': 'Deadline, days' },
  }, ['crm', 'base_url', 'text']],
  ['action.webhook', 'Webhook', 'Webhook', {
    url: { type: 'string', title: 'URL', 'x-title-en': 'URL' },
    method: { type: 'string', enum: ['POST', 'GET'], default: 'POST', title: 'Метод', 'x-title-en': 'Method' },
    headers: { type: 'object', additionalProperties: { type: 'string' }, title: 'Заголовки', 'x-title-en': 'Headers' },
    signing_secret: { type: 'string', title: 'Секрет подписи', 'x-title-en': 'Signing secret', 'x-secret': true },
  }, ['url']],
  ['flow.delay', 'Задержка', 'Delay', {
    amount: { type: 'integer', minimum: 1, default: 1, title: 'Сколько', 'x-title-en': 'Amount' },
    unit: { type: 'string', enum: ['minutes', 'hours', 'days'], default: 'hours', title: 'Единица', 'x-title-en': 'Unit',
      'x-enum-titles': { ru: ['минут', 'часов', 'дней'], en: ['minutes', 'hours', 'days'] } },
  }, ['amount', 'unit']],
];

function loadNodes() {
  const found = {};
  const walk = (dir) => {
    if (!fs.existsSync(dir)) return;
    for (const f of fs.readdirSync(dir)) {
      const p = path.join(dir, f);
      if (fs.statSync(p).isDirectory()) walk(p);
      else if (f.endsWith('.json')) {
        try {
          const s = JSON.parse(fs.readFileSync(p, 'utf8'));
          if (s['x-type']) found[s['x-type']] = s;
        } catch {
          /* a half-written schema of a colleague */
        }
      }
    }
  };
  walk(schemaRoot);
  for (const [type, ru, en, properties, required] of STUBS) {
    if (found[type]) continue;
    found[type] = { title: ru, 'x-title-en': en, type: 'object', properties, required: required || [], 'x-version': 1 };
  }
  const order = ['event', 'condition', 'action', 'flow'];
  // The server lists node types in the order of SPEC §3 (plugin.json has the same list); the palette
  // shows them as they come, so the mock answers in that order too.
  const manifest = path.resolve(here, '../../plugin.json');
  const served = fs.existsSync(manifest) ? JSON.parse(fs.readFileSync(manifest, 'utf8')).nodes.map((n) => n.type) : [];
  const rank = (type) => (served.includes(type) ? served.indexOf(type) : served.length);
  return Object.entries(found)
    .map(([type, schema]) => ({
      type,
      kind: type.split('.')[0],
      version: schema['x-version'] || 1,
      title: { ru: schema.title, en: schema['x-title-en'] },
      description: { ru: schema.description || '', en: schema['x-description-en'] || '' },
      schema,
    }))
    .sort((a, b) => order.indexOf(a.kind) - order.indexOf(b.kind) || rank(a.type) - rank(b.type));
}

const VARIABLES = [
  ['visit_id', 'Номер визита', 'Visit id', '12345'], ['visit_city', 'Город посетителя', "Visitor's city", 'Москва'],
  ['visit_utm_source', 'utm_source', 'utm_source', 'yandex'], ['client_name', 'Имя клиента', 'Client name', 'Иван'],
  ['client_phone', 'Телефон клиента', 'Client phone', '79012223344'], ['client_email', 'Email клиента', 'Client email', 'ivan@example.com'],
  ['order_id', 'ID сделки в CRM', 'Deal id in the CRM', '100'], ['order_price', 'Сумма сделки', 'Deal amount', '12000'],
  ['order_status', 'Статус сделки', 'Deal status', 'Новая'],
].map(([name, ru, en, example]) => ({ name, title: { ru, en }, example }));

export function mockApi() {
  const nodes = loadNodes();
  const byType = Object.fromEntries(nodes.map((n) => [n.type, n]));
  const flows = new Map();
  const presets = new Map();
  const runs = [];
  let seq = 1;
  const now = () => new Date().toISOString();

  const problem = (errors, title = 'Сценарий содержит ошибки') => ({ status: 422, body: { type: 'about:blank', title, status: 422, detail: `${errors.length} problem(s)`, errors } });
  const validate = (doc) => {
    const errors = [];
    if (!doc.name || !String(doc.name).trim()) errors.push({ path: '/name', message: 'Название не может быть пустым' });
    const events = (doc.nodes || []).filter((n) => n.type?.startsWith('event.'));
    if (events.length !== 1) errors.push({ path: '/nodes', message: 'В сценарии должно быть ровно одно событие' });
    if (!(doc.nodes || []).some((n) => n.type?.startsWith('action.'))) errors.push({ path: '/nodes', message: 'Нужно хотя бы одно действие' });
    (doc.nodes || []).forEach((n, i) => {
      const def = byType[n.type];
      if (!def) return errors.push({ path: `/nodes/${i}/type`, message: `Неизвестный тип ${n.type}` });
      for (const r of def.schema.required || []) {
        const v = n.params?.[r];
        if (v === undefined || v === '' || (Array.isArray(v) && !v.length)) errors.push({ path: `/nodes/${i}/params/${r}`, message: 'Обязательное поле' });
      }
      for (const [k, v] of Object.entries(n.params || {})) {
        if (typeof v === 'string' && /\{clinet_/.test(v)) errors.push({ path: `/nodes/${i}/params/${k}`, message: 'Неизвестная переменная' });
      }
    });
    const ids = new Set((doc.nodes || []).map((n) => n.id));
    (doc.edges || []).forEach((e, i) => {
      if (!ids.has(e.from) || !ids.has(e.to)) errors.push({ path: `/edges/${i}`, message: 'Связь ссылается на несуществующий узел' });
    });
    return errors;
  };
  const needsSecrets = (doc) => {
    const paths = [];
    (doc.nodes || []).forEach((n, i) => {
      for (const [k, p] of Object.entries(byType[n.type]?.schema.properties || {})) if (p['x-secret'] && n.params?.[k] === '********') paths.push(`/nodes/${i}/params/${k}`);
    });
    return paths;
  };
  const mask = (doc) => {
    const out = structuredClone(doc);
    out.needs_secrets = needsSecrets(doc);
    for (const n of out.nodes || []) {
      for (const [k, p] of Object.entries(byType[n.type]?.schema.properties || {})) if (p['x-secret'] && n.params?.[k]) n.params[k] = '********';
    }
    return out;
  };
  const render = (text, ctx) =>
    String(text ?? '').replace(/\{([a-z_0-9]+)\}/g, (m, name) => {
      const [obj, ...rest] = name.split('_');
      const v = ctx?.[obj]?.[rest.join('_')];
      return v === undefined || v === null ? '' : String(v);
    });
  const dryRun = (doc, ctx) => {
    const steps = [];
    const out = {};
    for (const e of doc.edges || []) (out[e.from] ||= []).push(e);
    const event = (doc.nodes || []).find((n) => n.type.startsWith('event.'));
    const reached = new Set();
    const visit = (node) => {
      if (!node || reached.has(node.id)) return;
      reached.add(node.id);
      let verdict = null;
      let status = 'succeeded';
      let output = {};
      if (node.type.startsWith('condition.')) {
        const field = node.type.replace('condition.visit_', '');
        const actual = String(ctx?.visit?.[field] ?? '').toLowerCase();
        const val = String(node.params?.value ?? '').toLowerCase();
        verdict = node.params?.operator === 'not_equals' ? actual !== val : node.params?.operator === 'contains' ? actual.includes(val) : actual === val || !val;
      } else if (node.type.startsWith('action.')) {
        status = 'would_send';
        output = Object.fromEntries(Object.entries(node.params || {}).filter(([k]) => byType[node.type]?.schema.properties?.[k]?.['x-template']).map(([k, v]) => [k, render(v, ctx)]));
      }
      steps.push({ node_id: node.id, type: node.type, status, verdict, output, error: null });
      for (const e of out[node.id] || []) {
        if (verdict !== null && (e.branch || 'true') !== String(verdict)) continue;
        visit(doc.nodes.find((n) => n.id === e.to));
      }
    };
    visit(event);
    for (const n of doc.nodes || []) if (!reached.has(n.id)) steps.push({ node_id: n.id, type: n.type, status: 'not_reached', verdict: null, output: {}, error: null });
    return { status: 'succeeded', steps };
  };
  const listItem = (f) => ({ id: f.id, name: f.name, enabled: f.enabled, version: f.version, event_type: f.nodes?.find((n) => n.type.startsWith('event.'))?.type, updated_at: f.updated_at, stats: f.stats });
  const store = (doc, id) => {
    const prev = flows.get(id);
    const nodesIn = (doc.nodes || []).map((n) => {
      const old = prev?.nodes?.find((o) => o.id === n.id);
      const params = { ...n.params };
      for (const [k, v] of Object.entries(params)) if (v === '********' && old) params[k] = old.params[k];
      return { ...n, params };
    });
    const f = { format: 'automation-flow/1', ...doc, id, nodes: nodesIn, version: (prev?.version || 0) + 1, updated_at: now(), stats: prev?.stats || { triggered: 0, failed: 0, last_triggered_at: null } };
    flows.set(id, f);
    return f;
  };

  // A sample flow with a failed and a successful run, so the list and history have something to show.
  const sample = store({
    name: 'Крупный заказ из Москвы', enabled: true,
    nodes: [
      { id: 'start', type: 'event.order_created', version: 1, params: {}, position: { x: 0, y: 0 } },
      { id: 'city', type: 'condition.visit_city', version: 1, params: { operator: 'equals', value: 'Москва' }, position: { x: 0, y: 150 } },
      { id: 'slack', type: 'action.slack', version: 1, params: { text: 'Новый заказ {order_id} от {client_name}', webhook_url: 'https://hooks.slack.com/services/T/B/X' }, position: { x: -140, y: 300 } },
      { id: 'slack_2', type: 'action.slack', version: 1, params: { text: 'Заказ не из Москвы: {visit_city}', webhook_url: 'https://hooks.slack.com/services/T/B/Y' }, position: { x: 160, y: 300 } },
    ],
    edges: [{ from: 'start', to: 'city' }, { from: 'city', to: 'slack', branch: 'true' }, { from: 'city', to: 'slack_2', branch: 'false' }],
  }, 'f1');
  sample.stats = { triggered: 7, failed: 1, last_triggered_at: now() };
  runs.push(
    { id: 'r2', flow_id: 'f1', status: 'failed', trigger: 'event', event_type: 'order_created', created_at: now(), finished_at: now(), triggered: true,
      steps: [
        { node_id: 'start', type: 'event.order_created', status: 'succeeded', verdict: null, output: {}, error: null, attempts: 1 },
        { node_id: 'city', type: 'condition.visit_city', status: 'succeeded', verdict: true, output: {}, error: null, attempts: 1 },
        { node_id: 'slack', type: 'action.slack', status: 'failed', verdict: null, output: { text: 'Новый заказ 101 от Иван' }, error: 'HTTP 404 from hooks.slack.com: no_team', attempts: 3 },
      ] },
    { id: 'r1', flow_id: 'f1', status: 'succeeded', trigger: 'event', event_type: 'order_created', created_at: new Date(Date.now() - 3600e3).toISOString(), finished_at: new Date(Date.now() - 3599e3).toISOString(), triggered: true,
      steps: [{ node_id: 'slack', type: 'action.slack', status: 'succeeded', verdict: null, output: { text: 'Новый заказ 100 от Иван' }, error: null, attempts: 1 }] },
  );
  seq = 2;

  const routes = [
    ['GET', /^\/api\/v1\/nodes$/, () => ({ body: { nodes } })],
    ['GET', /^\/api\/v1\/variables$/, () => ({ body: { variables: VARIABLES } })],
    ['GET', /^\/api\/v1\/flows$/, () => {
      for (const f of flows.values()) if (f.enabled && Math.random() < 0.3) f.stats.triggered += 1;
      return { body: { flows: [...flows.values()].map(listItem) } };
    }],
    ['POST', /^\/api\/v1\/flows$/, (m, body) => {
      const errors = validate(body);
      if (errors.length) return problem(errors);
      return { status: 201, body: mask(store(body, `f${seq++}`)) };
    }],
    ['POST', /^\/api\/v1\/flows\/import$/, (m, body) => {
      const list = Array.isArray(body?.flows) ? body.flows : [body];
      const out = list.map((d) => mask(store({ ...d, enabled: false }, `f${seq++}`)));
      return { status: 201, body: { flows: out } };
    }],
    ['POST', /^\/api\/v1\/flows\/test$/, (m, body) => ({ body: dryRun(body.flow, body.context) })],
    ['POST', /^\/api\/v1\/flows\/([^/]+)\/test$/, (m, body) => ({ body: dryRun(flows.get(m[1]), body.context) })],
    ['GET', /^\/api\/v1\/flows\/([^/]+)\/export$/, (m) => {
      const f = flows.get(m[1]);
      if (!f) return { status: 404, body: { title: 'Not found', status: 404 } };
      const { stats: _stats, updated_at: _updated, ...doc } = mask(f);
      return { body: doc };
    }],
    ['GET', /^\/api\/v1\/flows\/([^/]+)$/, (m) => (flows.has(m[1]) ? { body: mask(flows.get(m[1])) } : { status: 404, body: { title: 'Сценарий не найден', status: 404 } })],
    ['PUT', /^\/api\/v1\/flows\/([^/]+)$/, (m, body) => {
      const errors = validate(body);
      if (errors.length) return problem(errors);
      return { body: mask(store(body, m[1])) };
    }],
    ['PATCH', /^\/api\/v1\/flows\/([^/]+)$/, (m, body) => {
      const f = flows.get(m[1]);
      if (!f) return { status: 404, body: { title: 'Not found', status: 404 } };
      if (body?.enabled === true && needsSecrets(f).length) {
        return problem(needsSecrets(f).map((path) => ({ path, message: 'секрет не задан' })), 'Нельзя включить сценарий');
      }
      Object.assign(f, body);
      return { body: mask(f) };
    }],
    ['DELETE', /^\/api\/v1\/flows\/([^/]+)$/, (m) => {
      flows.delete(m[1]);
      return { status: 204 };
    }],
    ['GET', /^\/api\/v1\/presets$/, () => ({ body: { presets: [...presets.values()] } })],
    ['POST', /^\/api\/v1\/presets$/, (m, body) => {
      const p = { id: `p${seq++}`, ...body };
      presets.set(p.id, p);
      return { status: 201, body: p };
    }],
    ['DELETE', /^\/api\/v1\/presets\/([^/]+)$/, (m) => {
      presets.delete(m[1]);
      return { status: 204 };
    }],
    ['GET', /^\/api\/v1\/runs$/, (m, body, url) => ({ body: { runs: runs.filter((r) => r.flow_id === url.searchParams.get('flow_id')), next_cursor: null } })],
    ['POST', /^\/api\/v1\/runs\/([^/]+)\/retry$/, (m) => {
      const r = runs.find((x) => x.id === m[1]);
      if (r) r.status = 'queued';
      return { status: 202, body: r };
    }],
  ];

  return {
    name: 'mock-api',
    configureServer(server) {
      server.middlewares.use(async (req, res, next) => {
        const url = new URL(req.url, 'http://x');
        if (!url.pathname.startsWith('/api/')) return next();
        const send = (status, body) => {
          res.statusCode = status;
          if (body === undefined) return res.end();
          res.setHeader('Content-Type', status >= 400 ? 'application/problem+json' : 'application/json');
          res.end(JSON.stringify(body));
        };
        const auth = req.headers.authorization || '';
        if (!auth.startsWith('Bearer ') || auth === 'Bearer bad') return send(401, { title: 'Unauthorized', status: 401 });
        let raw = '';
        for await (const chunk of req) raw += chunk;
        let body;
        try {
          body = raw ? JSON.parse(raw) : undefined;
        } catch {
          return send(400, { title: 'Bad JSON', status: 400 });
        }
        for (const [method, re, fn] of routes) {
          const m = url.pathname.match(re);
          if (m && req.method === method) {
            const r = fn(m, body, url);
            return send(r.status || 200, r.body);
          }
        }
        return send(404, { title: 'Not found', status: 404 });
      });
    },
  };
}
