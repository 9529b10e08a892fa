import t from 'tap';
import { createSalesforceAdapter } from '../../../adapters/salesforce/index.ts';
import type { FilterResult } from '../../../adapters/types.ts';
import { isRefusal } from '../../../gateway/errors.ts';
import { safeParseJson } from '../../../gateway/json/safe-parse.ts';
import type { Obligations, Refusal, Resource, UcastCondition } from '../../../gateway/types.ts';

const sf = createSalesforceAdapter({});
const list: Resource = { adapter: 'salesforce', object: 'Contact', action: 'list', filtered: true };
const read: Resource = { adapter: 'salesforce', object: 'Contact', id: '003000000000001AAA', action: 'read', filtered: true };
const tenant: UcastCondition = { type: 'field', field: 'Tenant__c', operator: 'eq', value: 'acme' };
const ob: Obligations = {
  rows: tenant,
  fields: {
    Contact: { SSN__c: { remove: {} }, Email: { replace: { value: '***' } } },
    Account: { AnnualRevenue: { remove: {} } },
    Opportunity: { Amount: { replace: { value: null } } },
  },
};
const attrs = (type: string, id: string) => ({ type, url: `/services/data/v60.0/sobjects/${type}/${id}` });

/** The filter result, or a thrown error (failing the test) when it was refused. */
function ok(r: FilterResult | Refusal): FilterResult {
  if (isRefusal(r)) throw new Error(`refused ${r.code} ${r.detail ?? ''}`);
  return r;
}

t.test('query result: rows dropped, fields ruled, totalSize recomputed, attributes kept', async (t) => {
  const body = {
    totalSize: 3,
    done: true,
    records: [
      { attributes: attrs('Contact', '1'), Id: '1', Tenant__c: 'acme', Email: 'a@x', SSN__c: '111' },
      { attributes: attrs('Contact', '2'), Id: '2', Tenant__c: 'evil', Email: 'b@x', SSN__c: '222' },
      { attributes: attrs('Contact', '3'), Id: '3', Email: 'c@x' },
    ],
  };
  const r = ok(sf.filter(body, list, ob));
  t.strictSame(r.body, {
    totalSize: 1,
    done: true,
    records: [{ attributes: attrs('Contact', '1'), Id: '1', Tenant__c: 'acme', Email: '***' }],
  });
  t.strictSame(r.report, {
    rowsIn: 3, rowsOut: 1, masked: { Contact: ['Email'] }, removed: { Contact: ['SSN__c'] },
    ids: { Contact: ['1'] }, delivered: { Contact: ['Id', 'Tenant__c'] },
  }, 'ids and delivered fields: kept rows only, masked and removed fields not delivered');
  t.equal(body.records.length, 3, 'input not modified');
  t.equal(body.totalSize, 3, 'input not modified');
});

t.test('no obligations: everything kept, totalSize still counts the records', async (t) => {
  const body = { totalSize: 99, done: true, records: [{ attributes: attrs('Contact', '1'), Id: '1' }] };
  const r = ok(sf.filter(body, list, {}));
  t.strictSame(r.body, { totalSize: 1, done: true, records: [{ attributes: attrs('Contact', '1'), Id: '1' }] });
  t.strictSame(r.report, { rowsIn: 1, rowsOut: 1, masked: {}, removed: {}, ids: { Contact: ['1'] }, delivered: { Contact: ['Id'] } });
});

t.test('paged result (done=false): this page counted, nextRecordsUrl kept', async (t) => {
  const body = {
    totalSize: 5000,
    done: false,
    nextRecordsUrl: '/services/data/v60.0/query/01gD0000002HU6KIAW-2000',
    records: [
      { attributes: attrs('Contact', '1'), Tenant__c: 'acme' },
      { attributes: attrs('Contact', '2'), Tenant__c: 'evil' },
    ],
  };
  const r = ok(sf.filter(body, list, { rows: tenant }));
  t.strictSame(r.body, {
    totalSize: 1,
    done: false,
    nextRecordsUrl: '/services/data/v60.0/query/01gD0000002HU6KIAW-2000',
    records: [{ attributes: attrs('Contact', '1'), Tenant__c: 'acme' }],
  });
  t.strictSame(Object.keys(r.body as object), ['totalSize', 'done', 'nextRecordsUrl', 'records'], 'key order kept');
});

t.test('child subqueries: same row condition, their own field rules, their totalSize', async (t) => {
  const accounts: Resource = { ...list, object: 'Account' };
  const body = {
    totalSize: 1,
    done: true,
    records: [
      {
        attributes: attrs('Account', 'A1'),
        Tenant__c: 'acme',
        AnnualRevenue: 1e6,
        Contacts: {
          totalSize: 3,
          done: true,
          records: [
            { attributes: attrs('Contact', 'C1'), Tenant__c: 'acme', Email: 'a@x', SSN__c: '1' },
            { attributes: attrs('Contact', 'C2'), Tenant__c: 'evil', Email: 'b@x' },
            { attributes: attrs('Contact', 'C3'), Email: 'c@x' },
          ],
        },
        Opportunities: null,
        Cases: { totalSize: 1, done: true, records: [{ attributes: attrs('Case', 'K1'), Subject: 'no tenant field' }] },
      },
    ],
  };
  const r = ok(sf.filter(body, accounts, ob));
  t.strictSame(r.body, {
    totalSize: 1,
    done: true,
    records: [
      {
        attributes: attrs('Account', 'A1'),
        Tenant__c: 'acme',
        Contacts: { totalSize: 1, done: true, records: [{ attributes: attrs('Contact', 'C1'), Tenant__c: 'acme', Email: '***' }] },
        Opportunities: null,
        Cases: { totalSize: 0, done: true, records: [] },
      },
    ],
  });
  t.strictSame(r.report, {
    rowsIn: 1,
    rowsOut: 1,
    masked: { Contact: ['Email'] },
    removed: { Account: ['AnnualRevenue'], Contact: ['SSN__c'] },
    ids: { Account: ['A1'], Contact: ['C1'] },
    delivered: { Account: ['Opportunities', 'Tenant__c'], Contact: ['Tenant__c'] },
  }, 'child rows are not counted in rowsIn/rowsOut; kept children are delivered records (ids from attributes.url)');
});

t.test('nested children of children are filtered too', async (t) => {
  const body = {
    totalSize: 1, done: true,
    records: [{
      attributes: attrs('Account', 'A1'), Tenant__c: 'acme',
      Contacts: { totalSize: 1, done: true, records: [{
        attributes: attrs('Contact', 'C1'), Tenant__c: 'acme',
        Cases: { totalSize: 2, done: true, records: [
          { attributes: attrs('Case', 'K1'), Tenant__c: 'acme' },
          { attributes: attrs('Case', 'K2'), Tenant__c: 'evil' },
        ] },
      }] },
    }],
  };
  const r = ok(sf.filter(body, { ...list, object: 'Account' }, { rows: tenant }));
  const cases = ((r.body as any).records[0].Contacts.records[0].Cases);
  t.strictSame(cases, { totalSize: 1, done: true, records: [{ attributes: attrs('Case', 'K1'), Tenant__c: 'acme' }] });
});

t.test('parent relationship objects get their own type\'s field rules', async (t) => {
  const body = {
    totalSize: 1, done: true,
    records: [{
      attributes: attrs('Contact', 'C1'), Tenant__c: 'acme', Email: 'a@x',
      Account: { attributes: attrs('Account', 'A1'), Name: 'Acme', AnnualRevenue: 5,
        Owner: { attributes: attrs('User', 'U1'), Name: 'Bob' } },
      MailingAddress: { city: 'Paris', country: 'FR' },
    }],
  };
  const r = ok(sf.filter(body, list, { rows: tenant, fields: { ...ob.fields, User: { Name: { replace: { value: 'x' } } } } }));
  t.strictSame(r.body, {
    totalSize: 1, done: true,
    records: [{
      attributes: attrs('Contact', 'C1'), Tenant__c: 'acme', Email: '***',
      Account: { attributes: attrs('Account', 'A1'), Name: 'Acme', Owner: { attributes: attrs('User', 'U1'), Name: 'x' } },
      MailingAddress: { city: 'Paris', country: 'FR' },
    }],
  });
  t.strictSame(r.report.masked, { Contact: ['Email'], User: ['Name'] });
  t.strictSame(r.report.removed, { Account: ['AnnualRevenue'] });
  t.strictSame(r.report.ids, { Account: ['A1'], Contact: ['C1'], User: ['U1'] }, 'parent records delivered are listed under their type');
  t.strictSame(r.report.delivered, { Account: ['Name'], Contact: ['MailingAddress', 'Tenant__c'] }, 'relationships are not fields; compound fields are');
});

t.test('field rules follow attributes.type; without attributes the resource object', async (t) => {
  const body = { totalSize: 2, done: true, records: [
    { attributes: attrs('Opportunity', 'O1'), Amount: 100 },
    { Email: 'x@y', SSN__c: '1' },
  ] };
  const r = ok(sf.filter(body, list, { fields: ob.fields }));
  t.strictSame((r.body as any).records, [{ attributes: attrs('Opportunity', 'O1'), Amount: null }, { Email: '***' }]);
});

t.test('field rules and object types match case-insensitively', async (t) => {
  const body = { totalSize: 1, done: true, records: [{ attributes: attrs('Contact', '1'), ssn__c: '1', EMAIL: 'a' }] };
  const r = ok(sf.filter(body, { ...list, object: 'contact' }, { fields: { CONTACT: { SSN__c: { remove: {} }, Email: { replace: { value: '*' } } } } }));
  t.strictSame((r.body as any).records, [{ attributes: attrs('Contact', '1'), EMAIL: '*' }]);
});

t.test('single record read', async (t) => {
  const rec = { attributes: attrs('Contact', '1'), Id: '1', Tenant__c: 'acme', SSN__c: '1', Email: 'a@x' };
  const r = ok(sf.filter(rec, read, ob));
  t.strictSame(r.body, { attributes: attrs('Contact', '1'), Id: '1', Tenant__c: 'acme', Email: '***' });
  t.strictSame(r.report, { rowsIn: 1, rowsOut: 1, masked: { Contact: ['Email'] }, removed: { Contact: ['SSN__c'] }, ids: { Contact: ['1'] }, delivered: { Contact: ['Id', 'Tenant__c'] } });

  for (const [name, hidden] of [['other tenant', { ...rec, Tenant__c: 'evil' }], ['tenant field not selected', { attributes: attrs('Contact', '1'), Id: '1' }]] as const) {
    const h = sf.filter(hidden, read, ob);
    t.equal(isRefusal(h) ? h.code : 'kept', 'GW_ERR_RES_RECORD_HIDDEN', name);
  }
});

t.test('unexpected shapes are refused, never passed through', async (t) => {
  const cases: [string, unknown, Resource][] = [
    ['list body is an array', [], list],
    ['records not an array', { totalSize: 1, done: true, records: {} }, list],
    ['records missing', { totalSize: 0, done: true }, list],
    ['totalSize missing', { done: true, records: [] }, list],
    ['totalSize a string', { totalSize: '1', done: true, records: [] }, list],
    ['done missing', { totalSize: 0, records: [] }, list],
    ['a record is not an object', { totalSize: 1, done: true, records: ['x'] }, list],
    ['a record is null', { totalSize: 1, done: true, records: [null] }, list],
    ['attributes without type', { totalSize: 1, done: true, records: [{ attributes: {}, Tenant__c: 'acme' }] }, list],
    ['attributes not an object', { totalSize: 1, done: true, records: [{ attributes: 'Contact', Tenant__c: 'acme' }] }, list],
    ['child record without attributes', { totalSize: 1, done: true, records: [{ attributes: attrs('Account', 'A'), Tenant__c: 'acme', Contacts: { totalSize: 1, done: true, records: [{ Tenant__c: 'acme' }] } }] }, list],
    ['child result with records not an array', { totalSize: 1, done: true, records: [{ attributes: attrs('Account', 'A'), Tenant__c: 'acme', Contacts: { totalSize: 1, done: true, records: 'x' } }] }, list],
    ['parent relationship with bad attributes', { totalSize: 1, done: true, records: [{ attributes: attrs('Contact', 'C'), Tenant__c: 'acme', Account: { attributes: null } }] }, list],
    ['read body is an array', [{ Tenant__c: 'acme' }], read],
    ['read body is a string', 'x', read],
    ['read body is null', null, read],
  ];
  for (const [name, body, resource] of cases) {
    const r = sf.filter(body, resource, ob);
    t.equal(isRefusal(r) ? r.code : 'passed', 'GW_ERR_UPSTREAM_SHAPE', name);
  }
});

t.test('an invalid row condition is a policy error at filter time, not a throw', async (t) => {
  const r = sf.filter({ totalSize: 0, done: true, records: [] }, list, { rows: { type: 'field', field: 'x', operator: 'like', value: 'a' } as unknown as UcastCondition });
  t.equal(isRefusal(r) ? r.code : 'passed', 'GW_ERR_POLICY_ERROR');
});

t.test('writes are not filtered', async (t) => {
  const body = { id: '003000000000001AAA', success: true, errors: [] };
  const r = ok(sf.filter(body, { adapter: 'salesforce', object: 'Contact', action: 'create', filtered: false }, ob));
  t.equal(r.body, body);
  t.strictSame(r.report, { rowsIn: 0, rowsOut: 0, masked: {}, removed: {}, ids: {}, delivered: {} });
});

t.test('big numbers survive filtering byte for byte', async (t) => {
  const text = '{"totalSize":1,"done":true,"records":[{"attributes":{"type":"Contact","url":"/x"},"Tenant__c":"acme","Big__c":12345678901234567890,"Ratio__c":0.1000000000000000055511151231257827}]}';
  const parsed = safeParseJson(text, { maxDepth: 32 });
  t.ok(parsed.ok);
  if (!parsed.ok) return;
  const r = ok(sf.filter(parsed.value, list, { rows: tenant }));
  t.equal(JSON.stringify(r.body), text);
});
