import t from 'tap';
import { createGenericJsonAdapter } from '../../../adapters/generic-json/index.ts';
import { getAt, parsePointer, replaceAt } from '../../../adapters/generic-json/pointer.ts';
import type { FilterResult } from '../../../adapters/types.ts';
import { isRefusal } from '../../../gateway/errors.ts';
import type { Obligations, Refusal, Resource, UcastCondition } from '../../../gateway/types.ts';
import { request } from '../../fixtures/canonical-request.ts';

const adapter = createGenericJsonAdapter({
  routes: [
    { pattern: '/contacts', object: 'Contact', records: '/data', count: '/total' },
    { pattern: '/contacts/search', object: 'Contact', methods: ['GET'], records: '/data', count: '/total' },
    { pattern: '/contacts/:id', object: 'Contact' },
    { pattern: '/accounts', object: 'Account', methods: ['GET'], records: '' },
    { pattern: '/tenants/:tenant/deals/:id', object: 'Deal', methods: ['GET', 'POST', 'PATCH'] },
    { pattern: '/me', object: 'User', methods: ['GET'] },
  ],
  bodyFields: { '*': ['tenant_id'], Deal: ['discount'] },
});

const tenant: UcastCondition = { type: 'field', field: 'tenant_id', operator: 'eq', value: 'acme' };
const ob: Obligations = { rows: tenant, fields: { Contact: { ssn: { remove: {} }, email: { replace: { value: '***' } } } } };
const res = (object: string, action: Resource['action'], id?: string): Resource => ({
  adapter: 'generic-json', object, ...(id ? { id } : {}), action, filtered: action === 'read' || action === 'list',
});

/** The filter result, or a thrown error (failing the test) when it was refused. */
function ok(r: FilterResult | Refusal): FilterResult {
  if (isRefusal(r)) throw new Error(`refused ${r.code} ${r.detail ?? ''}`);
  return r;
}

t.test('resolve: actions from method and :id', async (t) => {
  const cases: [string, string, unknown, unknown][] = [
    ['GET', '/contacts', undefined, { adapter: 'generic-json', object: 'Contact', action: 'list', filtered: true }],
    ['GET', '/contacts?limit=5', undefined, { adapter: 'generic-json', object: 'Contact', action: 'list', filtered: true }],
    ['POST', '/contacts', { name: 'x', tenant_id: 'acme' }, { adapter: 'generic-json', object: 'Contact', action: 'create', body: { tenant_id: 'acme' }, filtered: false }],
    ['GET', '/contacts/search', undefined, { adapter: 'generic-json', object: 'Contact', action: 'list', filtered: true }],
    ['GET', '/contacts/42', undefined, { adapter: 'generic-json', object: 'Contact', id: '42', action: 'read', filtered: true }],
    ['PUT', '/contacts/42', {}, { adapter: 'generic-json', object: 'Contact', id: '42', action: 'update', body: {}, filtered: false }],
    ['PATCH', '/contacts/42', { Tenant_id: 'x' }, { adapter: 'generic-json', object: 'Contact', id: '42', action: 'update', body: {}, filtered: false }],
    ['DELETE', '/contacts/42', undefined, { adapter: 'generic-json', object: 'Contact', id: '42', action: 'delete', filtered: false }],
    ['GET', '/tenants/acme/deals/7', undefined, { adapter: 'generic-json', object: 'Deal', id: '7', action: 'read', filtered: true }],
    ['POST', '/tenants/acme/deals/7', { discount: 0.4, tenant_id: 'acme', note: 'n' }, { adapter: 'generic-json', object: 'Deal', id: '7', action: 'create', body: { tenant_id: 'acme', discount: 0.4 }, filtered: false }],
    ['GET', '/me', undefined, { adapter: 'generic-json', object: 'User', action: 'list', filtered: true }],
  ];
  for (const [method, target, body, want] of cases) {
    t.strictSame(adapter.resolve(request(method, target), body), want, `${method} ${target}`);
  }
});

t.test('resolve: refusals', async (t) => {
  const cases: [string, string, unknown, string][] = [
    ['GET', '/', undefined, 'GW_ERR_RES_UNKNOWN_ROUTE'],
    ['GET', '/leads', undefined, 'GW_ERR_RES_UNKNOWN_ROUTE'],
    ['GET', '/contacts/42/notes', undefined, 'GW_ERR_RES_UNKNOWN_ROUTE'],
    ['GET', '/Contacts', undefined, 'GW_ERR_RES_UNKNOWN_ROUTE'],
    ['DELETE', '/contacts', undefined, 'GW_ERR_RES_METHOD_NOT_ALLOWED'],
    ['POST', '/contacts/search', {}, 'GW_ERR_RES_METHOD_NOT_ALLOWED'],
    ['POST', '/accounts', {}, 'GW_ERR_RES_METHOD_NOT_ALLOWED'],
    ['HEAD', '/contacts/42', undefined, 'GW_ERR_RES_METHOD_NOT_ALLOWED'],
    ['DELETE', '/tenants/acme/deals/7', undefined, 'GW_ERR_RES_METHOD_NOT_ALLOWED'],
    ['POST', '/contacts', undefined, 'GW_ERR_REQ_BODY_INVALID'],
    ['POST', '/contacts', [{ tenant_id: 'acme' }], 'GW_ERR_REQ_BODY_INVALID'],
    ['PUT', '/contacts/42', 'x', 'GW_ERR_REQ_BODY_INVALID'],
  ];
  for (const [method, target, body, code] of cases) {
    const r = adapter.resolve(request(method, target), body);
    t.equal(isRefusal(r) ? r.code : 'resolved', code, `${method} ${target}`);
  }
});

t.test('filter a list at a pointer, recompute the count', async (t) => {
  const body = {
    total: 3,
    page: 1,
    data: [
      { id: 1, tenant_id: 'acme', email: 'a@x', ssn: '1' },
      { id: 2, tenant_id: 'evil', email: 'b@x' },
      { id: 3, email: 'c@x' },
    ],
  };
  const r = ok(adapter.filter(body, res('Contact', 'list'), ob));
  t.strictSame(r.body, { total: 1, page: 1, data: [{ id: 1, tenant_id: 'acme', email: '***' }] });
  t.strictSame(r.report, { rowsIn: 3, rowsOut: 1, masked: { Contact: ['email'] }, removed: { Contact: ['ssn'] }, ids: { Contact: ['1'] }, delivered: { Contact: ['id', 'tenant_id'] } });
  t.equal(body.data.length, 3, 'input not modified');

  const noCount = ok(adapter.filter({ data: [] }, res('Contact', 'list'), ob));
  t.strictSame(noCount.body, { data: [] }, 'an absent count stays absent');
});

t.test('filter a top-level array', async (t) => {
  const r = ok(adapter.filter([{ tenant_id: 'acme' }, { tenant_id: 'evil' }], res('Account', 'list'), ob));
  t.strictSame(r.body, [{ tenant_id: 'acme' }]);
  t.strictSame(r.report, { rowsIn: 2, rowsOut: 1, masked: {}, removed: {}, ids: {}, delivered: { Account: ['tenant_id'] } }, 'a record without id: fields, no id');
});

t.test('filter a single record', async (t) => {
  const r = ok(adapter.filter({ id: 42, tenant_id: 'acme', ssn: '1' }, res('Contact', 'read', '42'), ob));
  t.strictSame(r.body, { id: 42, tenant_id: 'acme' });
  t.strictSame(r.report.ids, { Contact: ['42'] }, 'a numeric id is logged as its decimal string');
  t.strictSame(r.report.delivered, { Contact: ['id', 'tenant_id'] });
  const hidden = adapter.filter({ id: 42, tenant_id: 'evil' }, res('Contact', 'read', '42'), ob);
  t.equal(isRefusal(hidden) ? hidden.code : 'kept', 'GW_ERR_RES_RECORD_HIDDEN');
  const me = adapter.filter({ id: 1 }, res('User', 'list'), ob);
  t.equal(isRefusal(me) ? me.code : 'kept', 'GW_ERR_RES_RECORD_HIDDEN', 'a single-record list route without the tenant field');
});

t.test('filter: shapes', async (t) => {
  const cases: [string, unknown, Resource, string][] = [
    ['records pointer missing', { items: [] }, res('Contact', 'list'), 'GW_ERR_UPSTREAM_SHAPE'],
    ['records not an array', { data: { id: 1 } }, res('Contact', 'list'), 'GW_ERR_UPSTREAM_SHAPE'],
    ['a record is not an object', { data: [1] }, res('Contact', 'list'), 'GW_ERR_UPSTREAM_SHAPE'],
    ['a record is an array', { data: [[]] }, res('Contact', 'list'), 'GW_ERR_UPSTREAM_SHAPE'],
    ['count not a number', { total: '3', data: [] }, res('Contact', 'list'), 'GW_ERR_UPSTREAM_SHAPE'],
    ['top-level array expected', { data: [] }, res('Account', 'list'), 'GW_ERR_UPSTREAM_SHAPE'],
    ['single record expected', [{ tenant_id: 'acme' }], res('Contact', 'read', '1'), 'GW_ERR_UPSTREAM_SHAPE'],
    ['no route for the resource', [], res('Lead', 'list'), 'GW_ERR_INTERNAL_ERROR'],
  ];
  for (const [name, body, resource, code] of cases) {
    const r = adapter.filter(body, resource, ob);
    t.equal(isRefusal(r) ? r.code : 'passed', code, name);
  }
  const w = ok(adapter.filter('anything', res('Contact', 'create'), ob));
  t.equal(w.body, 'anything', 'writes are not filtered');
});

t.test('options are validated with the offending key first', async (t) => {
  const bad: [unknown, RegExp][] = [
    [{}, /^routes: must be a non-empty array/],
    [{ routes: [] }, /^routes: must be a non-empty array/],
    [{ routes: [{ pattern: '/a', object: 'A' }, { pattern: 'b', object: 'B' }] }, /^routes\[1\]\.pattern: must start with \//],
    [{ routes: [{ pattern: '/a/', object: 'A' }] }, /^routes\[0\]\.pattern: segment ""/],
    [{ routes: [{ pattern: '/a b', object: 'A' }] }, /^routes\[0\]\.pattern: /],
    [{ routes: [{ pattern: '/a/:id/:id', object: 'A' }] }, /^routes\[0\]\.pattern: parameter :id appears twice/],
    [{ routes: [{ pattern: '/a', object: '' }] }, /^routes\[0\]\.object: /],
    [{ routes: [{ pattern: '/a', object: 'A', methods: ['GET', 'TRACE'] }] }, /^routes\[0\]\.methods: "TRACE"/],
    [{ routes: [{ pattern: '/a', object: 'A', methods: [] }] }, /^routes\[0\]\.methods: /],
    [{ routes: [{ pattern: '/a', object: 'A', records: 'data' }] }, /^routes\[0\]\.records: must be a JSON Pointer/],
    [{ routes: [{ pattern: '/a', object: 'A', records: '/d', count: 'total' }] }, /^routes\[0\]\.count: /],
    [{ routes: [{ pattern: '/a', object: 'A', count: '/total' }] }, /^routes\[0\]\.count: needs records/],
    [{ routes: [{ pattern: '/a', object: 'A', record: '/d' }] }, /^routes\[0\]\.record: unknown option/],
    [{ routes: [{ pattern: '/a', object: 'A', records: '/d' }, { pattern: '/b', object: 'A', records: '/items' }] }, /^routes\[1\]\.records: must match routes\[0\]/],
    [{ routes: [{ pattern: '/a', object: 'A' }], bodyFields: { A: 'x' } }, /^bodyFields\["A"\]: /],
    [{ routes: [{ pattern: '/a', object: 'A' }], extra: 1 }, /^extra: unknown option/],
    [{ routes: ['/a'] }, /^routes\[0\]: must be an object/],
  ];
  for (const [options, message] of bad) {
    t.throws(() => createGenericJsonAdapter(options as Record<string, unknown>), { message }, String(message));
  }
});

t.test('JSON Pointer', async (t) => {
  t.same(parsePointer(''), []);
  t.same(parsePointer('/a~1b/c~0d/0'), ['a/b', 'c~d', '0']);
  t.equal(parsePointer('a'), undefined);
  t.equal(parsePointer('/a~2'), undefined);
  const doc = { a: [{ b: 1 }, { b: 2 }], 'x/y': 3 };
  t.same(getAt(doc, ['a', '1', 'b']), { found: true, value: 2 });
  t.same(getAt(doc, ['x/y']), { found: true, value: 3 });
  t.same(getAt(doc, ['a', '01']), { found: false });
  t.same(getAt(doc, ['a', '5']), { found: false });
  t.same(getAt(doc, ['constructor']), { found: false }, 'own properties only');
  const out = replaceAt(doc, ['a', '0', 'b'], 9);
  t.same(out, { a: [{ b: 9 }, { b: 2 }], 'x/y': 3 });
  t.same(doc.a[0], { b: 1 }, 'input not modified');
});

t.test('a method override in the query (_method, _HttpMethod, x-http-method-override…) is refused', async (t) => {
  for (const target of [
    '/contacts?_method=DELETE',
    '/contacts/7?_METHOD=delete',
    '/contacts?page=2&_HttpMethod=GET',
    '/contacts?X-HTTP-Method-Override=PUT',
    '/contacts?.method=GET', // PHP reads it as _method
    '/contacts?%2Emethod=GET',
    '/contacts?%20method=GET',
    '/contacts?_method[]=GET',
  ]) {
    const r = adapter.resolve(request('POST', target), { tenant_id: 'acme' });
    t.ok(isRefusal(r) && r.code === 'GW_ERR_RES_BAD_QUERY', target);
  }
  for (const body of [{ tenant_id: 'acme', _method: 'GET' }, { tenant_id: 'acme', _METHOD: 'GET' }, { '.method': 'DELETE' }]) {
    const r = adapter.resolve(request('POST', '/contacts'), body);
    t.ok(isRefusal(r) && r.code === 'GW_ERR_REQ_BODY_INVALID', `body ${JSON.stringify(body)}: Laravel/Symfony read _method there too`);
  }
  t.notOk(isRefusal(adapter.resolve(request('GET', '/contacts?page=2&method=x'), undefined)), 'other parameters still pass');
});
