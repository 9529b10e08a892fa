import t from 'tap';
import { createSalesforceAdapter } from '../../../adapters/salesforce/index.ts';
import { isRefusal } from '../../../gateway/errors.ts';
import { request } from '../../fixtures/canonical-request.ts';

const sf = createSalesforceAdapter({});
const V = '/services/data/v60.0';
const ID = '003000000000001AAA';
const q = (soql: string) => `${V}/query?q=${encodeURIComponent(soql)}`;

t.test('resolves known routes', async (t) => {
  const cases: [string, string, unknown, object][] = [
    ['GET', q('SELECT Id, Name FROM Contact'), undefined, { adapter: 'salesforce', object: 'Contact', action: 'list', fields: ['Id', 'Name'], filtered: true }],
    ['GET', q('SELECT FIELDS(ALL) FROM Contact LIMIT 200'), undefined, { adapter: 'salesforce', object: 'Contact', action: 'list', filtered: true }],
    ['GET', q('SELECT Id, (SELECT Email FROM Contacts) FROM Account'), undefined, { adapter: 'salesforce', object: 'Account', action: 'list', fields: ['Id', 'Contacts.Email'], filtered: true }],
    ['GET', `${V}/sobjects/Contact/${ID}`, undefined, { adapter: 'salesforce', object: 'Contact', id: ID, action: 'read', filtered: true }],
    ['GET', `/services/data/v58.0/sobjects/Contact/003000000000001`, undefined, { adapter: 'salesforce', object: 'Contact', id: '003000000000001', action: 'read', filtered: true }],
    ['GET', `${V}/sobjects/Contact/${ID}?fields=Name,%20Email`, undefined, { adapter: 'salesforce', object: 'Contact', id: ID, action: 'read', fields: ['Name', 'Email'], filtered: true }],
    ['POST', `${V}/sobjects/Contact`, { LastName: 'x', Tenant__c: 'acme' }, { adapter: 'salesforce', object: 'Contact', action: 'create', body: { Tenant__c: 'acme' }, filtered: false }],
    ['POST', `${V}/sobjects/Quote`, { Name: 'q', Discount: 0.3, Region__c: 'EU' }, { adapter: 'salesforce', object: 'Quote', action: 'create', body: { Tenant__c: undefined, Region__c: 'EU', Discount: 0.3 }, filtered: false }],
    ['PATCH', `${V}/sobjects/Quote/${ID}`, { discount: 0.9 }, { adapter: 'salesforce', object: 'Quote', id: ID, action: 'update', body: { Discount: 0.9 }, filtered: false }],
    ['PATCH', `${V}/sobjects/Contact/${ID}`, {}, { adapter: 'salesforce', object: 'Contact', id: ID, action: 'update', body: {}, filtered: false }],
    ['DELETE', `${V}/sobjects/Contact/${ID}`, undefined, { adapter: 'salesforce', object: 'Contact', id: ID, action: 'delete', filtered: false }],
  ];
  for (const [method, target, body, want] of cases) {
    const r = sf.resolve(request(method, target), body);
    t.strictSame(JSON.parse(JSON.stringify(r)), JSON.parse(JSON.stringify(want)), `${method} ${target}`);
  }
});

t.test('the body seen by the policy is only the decision-relevant fields', async (t) => {
  const r = sf.resolve(request('PATCH', `${V}/sobjects/Quote/${ID}`), { Discount: 0.5, SSN__c: 'x', Description: 'long' });
  t.strictSame(r, { adapter: 'salesforce', object: 'Quote', id: ID, action: 'update', body: { Discount: 0.5 }, filtered: false });
});

t.test('refusals', async (t) => {
  const cases: [string, string, unknown, string][] = [
    ['GET', `${V}/query`, undefined, 'GW_ERR_RES_BAD_QUERY'],
    ['GET', `${V}/query?q=`, undefined, 'GW_ERR_RES_BAD_QUERY'],
    ['GET', `${V}/query?q=%20%20`, undefined, 'GW_ERR_RES_BAD_QUERY'],
    ['GET', `${V}/query?q=DELETE`, undefined, 'GW_ERR_RES_BAD_QUERY'],
    ['GET', q('SELECT COUNT() FROM Contact'), undefined, 'GW_ERR_RES_BAD_QUERY'],
    ['GET', `${q('SELECT Id FROM Lead')}&q=${encodeURIComponent('SELECT SSN__c FROM Contact')}`, undefined, 'GW_ERR_RES_BAD_QUERY'],
    ['GET', `${V}/query/01gD0000002HU6KIAW-2000`, undefined, 'GW_ERR_RES_UNKNOWN_ROUTE'],
    ['POST', q('SELECT Id FROM Contact'), undefined, 'GW_ERR_RES_METHOD_NOT_ALLOWED'],
    ['GET', `/services/data/v60/sobjects/Contact/${ID}`, undefined, 'GW_ERR_RES_UNKNOWN_ROUTE'],
    ['GET', `/services/data/60.0/sobjects/Contact/${ID}`, undefined, 'GW_ERR_RES_UNKNOWN_ROUTE'],
    ['GET', `/services/apexrest/Contact/${ID}`, undefined, 'GW_ERR_RES_UNKNOWN_ROUTE'],
    ['GET', `${V}/composite/batch`, undefined, 'GW_ERR_RES_UNKNOWN_ROUTE'],
    ['GET', `${V}/queryAll?q=SELECT+Id+FROM+Contact`, undefined, 'GW_ERR_RES_UNKNOWN_ROUTE'],
    ['GET', `${V}/sobjects`, undefined, 'GW_ERR_RES_UNKNOWN_ROUTE'],
    ['GET', `${V}/sobjects/Contact`, undefined, 'GW_ERR_RES_METHOD_NOT_ALLOWED'],
    ['GET', `${V}/sobjects/Contact/describe`, undefined, 'GW_ERR_RES_UNKNOWN_ROUTE'],
    ['GET', `${V}/sobjects/Contact/${ID}/Cases`, undefined, 'GW_ERR_RES_UNKNOWN_ROUTE'],
    ['GET', `${V}/sobjects/Contact/ExtId__c/abc`, undefined, 'GW_ERR_RES_UNKNOWN_ROUTE'],
    ['GET', `${V}/sobjects/Con-tact/${ID}`, undefined, 'GW_ERR_RES_UNKNOWN_ROUTE'],
    ['GET', `${V}/sobjects/Contact/003000000000001AA`, undefined, 'GW_ERR_RES_UNKNOWN_ROUTE'],
    ['GET', `${V}/sobjects/Contact/003000000000001A-A`, undefined, 'GW_ERR_RES_UNKNOWN_ROUTE'],
    ['GET', `${V}/sobjects/Contact/${ID}?fields=Name,SSN__c;x`, undefined, 'GW_ERR_RES_BAD_QUERY'],
    ['GET', `${V}/sobjects/Contact/${ID}?fields=Name&fields=SSN__c`, undefined, 'GW_ERR_RES_BAD_QUERY'],
    ['GET', `${V}/sobjects/Contact/${ID}?fields=`, undefined, 'GW_ERR_RES_BAD_QUERY'],
    ['PUT', `${V}/sobjects/Contact/${ID}`, {}, 'GW_ERR_RES_METHOD_NOT_ALLOWED'],
    ['HEAD', `${V}/sobjects/Contact/${ID}`, undefined, 'GW_ERR_RES_METHOD_NOT_ALLOWED'],
    ['POST', `${V}/sobjects/Contact/${ID}`, {}, 'GW_ERR_RES_METHOD_NOT_ALLOWED'],
    ['DELETE', `${V}/sobjects/Contact`, undefined, 'GW_ERR_RES_METHOD_NOT_ALLOWED'],
    ['POST', `${V}/sobjects/Contact`, undefined, 'GW_ERR_REQ_BODY_INVALID'],
    ['POST', `${V}/sobjects/Contact`, [{ Tenant__c: 'acme' }], 'GW_ERR_REQ_BODY_INVALID'],
    ['POST', `${V}/sobjects/Contact`, 'x', 'GW_ERR_REQ_BODY_INVALID'],
    ['POST', `${V}/sobjects/Contact`, null, 'GW_ERR_REQ_BODY_INVALID'],
    ['PATCH', `${V}/sobjects/Quote/${ID}`, { Discount: 0.1, discount: 0.9 }, 'GW_ERR_REQ_BODY_INVALID'],
    ['PATCH', `${V}/sobjects/Contact/${ID}`, { Tenant__c: 'acme', TENANT__C: 'evil' }, 'GW_ERR_REQ_BODY_INVALID'],
  ];
  for (const [method, target, body, code] of cases) {
    const r = sf.resolve(request(method, target), body);
    t.equal(isRefusal(r) ? r.code : 'resolved', code, `${method} ${target}`);
  }
});

t.test('options', async (t) => {
  const custom = createSalesforceAdapter({ bodyFields: { Opportunity: ['Amount'] } });
  const r = custom.resolve(request('PATCH', `${V}/sobjects/opportunity/${ID}`), { amount: 5, Tenant__c: 'x' });
  t.strictSame(r, { adapter: 'salesforce', object: 'Opportunity', id: ID, action: 'update', body: { Amount: 5 }, filtered: false }, 'bodyFields replaces the default; object matched in any case and named canonically');
  t.throws(() => createSalesforceAdapter({ bodyField: {} }), { message: /^bodyField: unknown option/ });
  t.throws(() => createSalesforceAdapter({ bodyFields: [] }), { message: /^bodyFields: / });
  t.throws(() => createSalesforceAdapter({ bodyFields: { Quote: 'Discount' } }), { message: /^bodyFields\["Quote"\]: / });
  t.equal(sf.name, 'salesforce');
});

t.test('filter fields: WHERE and ORDER BY fields are shown to the policy', async (t) => {
  const cases: [string, string[] | undefined][] = [
    ["SELECT Id, Tenant__c, Region__c FROM Contact WHERE SSN__c = '900-07-0037'", ['SSN__c']],
    ['SELECT Id FROM Contact ORDER BY DateOfBirth__c DESC NULLS LAST, Name', ['DateOfBirth__c', 'Name']],
    ["SELECT Id FROM Contact WHERE Name = 'a' OR name = 'b' ORDER BY Name", ['Name', 'name']],
    ["SELECT Id, (SELECT Id FROM Contacts WHERE SSN__c LIKE '900%') FROM Account WHERE Account.Owner.Email != null", ['Account.Owner.Email', 'Contacts.SSN__c']],
    ['SELECT Id, Name FROM Contact LIMIT 5', undefined],
  ];
  for (const [soql, want] of cases) {
    const r = sf.resolve(request('GET', q(soql)), undefined);
    t.notOk(isRefusal(r), soql);
    if (isRefusal(r)) continue;
    t.strictSame(r.filterFields, want, soql);
    if (want === undefined) t.notOk('filterFields' in r, `${soql}: no key when there are none`);
  }
});

t.test('queries whose WHERE cannot be analysed are refused, never guessed at', async (t) => {
  for (const soql of [
    "SELECT Id FROM Contact WHERE Id IN (SELECT ContactId FROM CaseContactRole WHERE Role = 'x')",
    "SELECT Id FROM Account WHERE Id NOT IN (SELECT AccountId FROM Contact WHERE SSN__c = '900-07-0037')",
    "SELECT Id FROM Contact WHERE MAX(SSN__c) = '1'",
    'SELECT Id FROM Contact WHERE SSN__c = Name',
    "SELECT Id FROM Contact WHERE SSN__c = '1' GARBAGE",
    "SELECT Id FROM Contact WITH DATA CATEGORY Geography__c AT asia__c",
  ]) {
    const r = sf.resolve(request('GET', q(soql)), undefined);
    t.equal(isRefusal(r) ? r.code : 'resolved', 'GW_ERR_RES_BAD_QUERY', soql);
  }
});

t.test('object names: case variants of known objects are resolved to the canonical name', async (t) => {
  const list = (a: ReturnType<typeof createSalesforceAdapter>, soql: string) => {
    const r = a.resolve(request('GET', q(soql)), undefined);
    return isRefusal(r) ? r.code : r.object;
  };
  t.equal(list(sf, 'SELECT Id FROM contact'), 'Contact');
  t.equal(list(sf, 'SELECT Id FROM QUOTE'), 'Quote');
  t.equal(list(sf, 'SELECT Id FROM Lead'), 'Lead', 'unknown objects are passed on as written (the policy denies them)');
  t.equal(list(sf, 'SELECT Id FROM lead'), 'lead');
  const r = sf.resolve(request('GET', `${V}/sobjects/cOnTaCt/${ID}`), undefined);
  t.equal(isRefusal(r) ? r.code : r.object, 'Contact', 'sobject routes too');
  const custom = createSalesforceAdapter({ objects: ['Lead', 'ns__Invoice__c'] });
  t.equal(list(custom, 'SELECT Id FROM LEAD'), 'Lead');
  t.equal(list(custom, 'SELECT Id FROM NS__INVOICE__C'), 'ns__Invoice__c');
  t.equal(list(custom, 'SELECT Id FROM contact'), 'contact', 'the option replaces the default list');
  t.throws(() => createSalesforceAdapter({ objects: 'Contact' }), { message: /^objects: / });
  t.throws(() => createSalesforceAdapter({ objects: ['Contact', 'Con tact'] }), { message: /^objects\[1\]: / });
  t.throws(() => createSalesforceAdapter({ objects: ['Contact', 'CONTACT'] }), { message: /^objects\[1\]: .*differ only in case/ });
});

t.test('a repeated SOQL text resolves from the cache: same answer, fresh arrays, refusals too', async (t) => {
  const soql = 'SELECT Id, Name, (SELECT Email FROM Contacts) FROM account WHERE Region__c = \'EU\' ORDER BY Name';
  const first = sf.resolve(request('GET', q(soql)), undefined);
  const second = sf.resolve(request('GET', q(soql)), undefined);
  t.strictSame(second, first);
  t.strictSame(first, { adapter: 'salesforce', object: 'Account', action: 'list', fields: ['Id', 'Name', 'Contacts.Email'], filterFields: ['Region__c', 'Name'], filtered: true });
  if (isRefusal(first) || isRefusal(second)) return;
  // A caller that changes its resource must not change the next request's.
  t.not(first.fields, second.fields);
  (first.fields as string[]).push('SSN__c');
  t.strictSame(sf.resolve(request('GET', q(soql)), undefined), second);
  const bad = q('SELECT Id FROM');
  t.strictSame(sf.resolve(request('GET', bad), undefined), sf.resolve(request('GET', bad), undefined));
  t.ok(isRefusal(sf.resolve(request('GET', bad), undefined)));
});

t.test('query parameters a route does not take are refused (_HttpMethod would turn a POST into a read)', async (t) => {
  const cases: [string, string, unknown][] = [
    ['POST', `${V}/sobjects/Contact?_HttpMethod=GET`, { LastName: 'x' }],
    ['POST', `${V}/sobjects/Contact?_httpmethod=GET`, { LastName: 'x' }],
    ['PATCH', `${V}/sobjects/Contact/${ID}?_HttpMethod=DELETE`, {}],
    ['DELETE', `${V}/sobjects/Contact/${ID}?fields=Name`, undefined],
    ['GET', `${V}/sobjects/Contact/${ID}?fields=Name&_HttpMethod=DELETE`, undefined],
    ['GET', `${q('SELECT Id FROM Contact')}&explain=1`, undefined],
    ['GET', `${q('SELECT Id FROM Contact')}&_HttpMethod=DELETE`, undefined],
  ];
  for (const [method, target, body] of cases) {
    const r = sf.resolve(request(method, target), body);
    t.ok(isRefusal(r) && r.code === 'GW_ERR_RES_BAD_QUERY', `${method} ${target}`);
    t.match(isRefusal(r) ? r.detail : '', /^query parameter ".+" is not supported on this route$/);
  }
  t.notOk(isRefusal(sf.resolve(request('GET', `${V}/sobjects/Contact/${ID}?fields=Name`), undefined)), 'a record read with fields still resolves');
});
