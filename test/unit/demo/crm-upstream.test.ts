import t from 'tap';
import { buildDataset, DATASET, DEMO_IDS } from '../../../gateway/demo/crm-data.ts';
import { startDemoCrm } from '../../../gateway/demo/crm-upstream.ts';
import { soqlPath } from '../../../gateway/demo/personas.ts';

const crm = await startDemoCrm();
t.teardown(() => crm.close());

const get = async (path: string, headers: Record<string, string> = {}) => {
  const res = await fetch(crm.url + path, { headers });
  return { status: res.status, type: res.headers.get('content-type'), body: (await res.json()) as any };
};
const send = async (method: string, path: string, body: unknown, type = 'application/json') => {
  const res = await fetch(crm.url + path, { method, headers: { 'content-type': type }, body: JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: text === '' ? undefined : (JSON.parse(text) as any) };
};

t.test('listens on loopback', async (t) => {
  t.match(crm.url, /^http:\/\/127\.0\.0\.1:[0-9]+$/);
});

t.test('SOQL query returns Salesforce-shaped records, unknown fields omitted', async (t) => {
  const r = await get(soqlPath("SELECT Id, Name, SSN__c, NoSuchField__c FROM Contact WHERE Tenant__c = 'globex' AND Region__c = 'US' LIMIT 3"));
  t.equal(r.status, 200);
  t.match(r.type, /^application\/json/);
  t.equal(r.body.totalSize, 3);
  t.equal(r.body.done, true);
  t.equal(r.body.records.length, 3);
  const first = DATASET.Contact.find((c) => c.Id === DEMO_IDS.globexUsContact)!;
  t.same(r.body.records[0], {
    attributes: { type: 'Contact', url: `/services/data/v60.0/sobjects/Contact/${first.Id}` },
    Id: first.Id,
    Name: first.Name,
    SSN__c: first.SSN__c,
  });
  for (const rec of r.body.records) t.notOk('NoSuchField__c' in rec);
});

t.test('no WHERE returns every tenant and region (the CRM filters nothing)', async (t) => {
  const r = await get(soqlPath('SELECT Id, Tenant__c, Region__c FROM Contact'));
  t.equal(r.body.totalSize, DATASET.Contact.length);
  t.same(new Set(r.body.records.map((x: any) => `${x.Tenant__c}/${x.Region__c}`)), new Set(['acme/EU', 'acme/US', 'globex/EU', 'globex/US']));
});

t.test('FIELDS(ALL), any API version, ORDER BY, OFFSET, IN', async (t) => {
  const r = await get(soqlPath("SELECT FIELDS(ALL) FROM Quote WHERE Id IN ('" + DEMO_IDS.acmeEuQuote + "') LIMIT 1").replace('v60.0', 'v58.0'));
  t.equal(r.status, 200);
  const q = DATASET.Quote[0]!;
  t.same(r.body.records, [{ attributes: { type: 'Quote', url: `/services/data/v58.0/sobjects/Quote/${q.Id}` }, ...q }]);
  const o = await get(soqlPath('SELECT Amount FROM Opportunity ORDER BY Amount DESC LIMIT 2 OFFSET 1'));
  const amounts = DATASET.Opportunity.map((x) => x.Amount as number).sort((a, b) => b - a);
  t.same(o.body.records.map((x: any) => x.Amount), amounts.slice(1, 3));
});

t.test('bad SOQL → 400 MALFORMED_QUERY; unknown object → 400 INVALID_TYPE', async (t) => {
  const r = await get('/services/data/v60.0/query?q=SELEC%20Id%20FROM%20Contact');
  t.equal(r.status, 400);
  t.equal(r.body[0].errorCode, 'MALFORMED_QUERY');
  t.type(r.body[0].message, 'string');
  t.equal((await get('/services/data/v60.0/query')).body[0].errorCode, 'MALFORMED_QUERY');
  const u = await get(soqlPath('SELECT Id FROM Lead'));
  t.equal(u.status, 400);
  t.equal(u.body[0].errorCode, 'INVALID_TYPE');
});

t.test('sobjects GET by id, with ?fields=, 15-char id, and 404 NOT_FOUND', async (t) => {
  const c = DATASET.Contact[0]!;
  const r = await get(`/services/data/v60.0/sobjects/Contact/${c.Id}`);
  t.equal(r.status, 200);
  t.same(r.body, { attributes: { type: 'Contact', url: `/services/data/v60.0/sobjects/Contact/${c.Id}` }, ...c });
  const f = await get(`/services/data/v60.0/sobjects/Contact/${c.Id}?fields=Name,Email`);
  t.same(f.body, { attributes: { type: 'Contact', url: `/services/data/v60.0/sobjects/Contact/${c.Id}` }, Name: c.Name, Email: c.Email });
  t.equal((await get(`/services/data/v60.0/sobjects/Contact/${c.Id.slice(0, 15)}`)).body.Id, c.Id);
  const missing = await get('/services/data/v60.0/sobjects/Contact/003999999999999AAA');
  t.equal(missing.status, 404);
  t.equal(missing.body[0].errorCode, 'NOT_FOUND');
  t.equal((await get('/services/data/v60.0/sobjects/Lead/00Q000000000001AAA')).status, 404);
  t.equal((await get('/services/data/v60.0/nope')).status, 404);
  t.equal((await get('/other')).status, 404);
});

t.test('POST creates a Quote (201), PATCH updates it (204), both visible to reads', async (t) => {
  const created = await send('POST', '/services/data/v60.0/sobjects/Quote', {
    Name: 'Q-TEST',
    OpportunityId: DEMO_IDS.acmeEuOpportunity,
    Status: 'Draft',
    Discount: 15,
    TotalPrice: 8500,
    Tenant__c: 'acme',
    Region__c: 'EU',
  });
  t.equal(created.status, 201);
  t.match(created.body, { id: /^0Q0[0-9A-Za-z]{15}$/, success: true, errors: [] });
  const id = created.body.id as string;
  t.equal(id.length, 18);
  const patched = await send('PATCH', `/services/data/v60.0/sobjects/Quote/${id}`, { Discount: 10, Status: 'Approved' });
  t.equal(patched.status, 204);
  t.equal(patched.body, undefined);
  const after = await get(`/services/data/v60.0/sobjects/Quote/${id}`);
  t.match(after.body, { Id: id, Name: 'Q-TEST', Discount: 10, Status: 'Approved', Tenant__c: 'acme' });
  t.equal(crm.data.Quote.at(-1)?.Id, id);
  // the seed dataset is never mutated
  t.equal(DATASET.Quote.length, buildDataset().Quote.length);
  t.notOk(DATASET.Quote.some((q) => q.Id === id));
});

t.test('write errors look like Salesforce errors', async (t) => {
  const q = '/services/data/v60.0/sobjects/Quote';
  t.match(await send('POST', q, { Bogus__c: 1 }), { status: 400, body: [{ errorCode: 'INVALID_FIELD', fields: ['Bogus__c'] }] });
  t.match(await send('POST', q, { Id: DEMO_IDS.acmeEuQuote }), { status: 400, body: [{ errorCode: 'INVALID_FIELD_FOR_INSERT_UPDATE' }] });
  t.match(await send('POST', q, [1]), { status: 400, body: [{ errorCode: 'JSON_PARSER_ERROR' }] });
  t.match(await send('POST', q, { Name: 'x' }, 'text/plain'), { status: 415 });
  const bad = await fetch(crm.url + q, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{' });
  t.equal(bad.status, 400);
  t.match(await send('PATCH', `${q}/0Q0999999999999CAA`, { Discount: 1 }), { status: 404, body: [{ errorCode: 'NOT_FOUND' }] });
  t.match(await send('PUT', `${q}/${DEMO_IDS.acmeEuQuote}`, {}), { status: 405 });
});

t.test('records every request as received: method, raw target, headers, body', async (t) => {
  const before = crm.requests.length;
  const target = "/services/data/v60.0/query?q=SELECT%20Id%20FROM%20Account%20WHERE%20Name%20%3D%20%27x%27";
  await get(target, { authorization: 'Bearer abc', 'x-gateway-subject': 'u-1' });
  t.equal(crm.requests.length, before + 1);
  const rec = crm.requests[before]!;
  t.equal(rec.method, 'GET');
  t.equal(rec.url, target);
  t.equal(rec.headers.authorization, 'Bearer abc');
  t.equal(rec.headers['x-gateway-subject'], 'u-1');
  t.equal(rec.body, '');
  t.ok(Object.isFrozen(rec));
});

t.test('custom records and isolation between instances', async (t) => {
  const records = buildDataset(1);
  const small = await startDemoCrm({ records });
  t.teardown(() => small.close());
  const r = await fetch(small.url + soqlPath('SELECT Id FROM Account'));
  t.equal(((await r.json()) as any).totalSize, 4);
  t.equal(small.requests.length, 1);
});
