/**
 * adapters/shared/error-body.ts and the two adapters' error rules: what of a non-2xx body passes
 * (error members only), what is dropped (named by JSON Pointer, the list capped, the total kept),
 * and that the upstream's value is never changed in place.
 */
import t from 'tap';
import { MAX_DROPPED, reduceErrorBody } from '../../../adapters/shared/error-body.ts';
import { createSalesforceAdapter } from '../../../adapters/salesforce/index.ts';
import { createGenericJsonAdapter } from '../../../adapters/generic-json/index.ts';

const sf = createSalesforceAdapter({});
const generic = createGenericJsonAdapter({ routes: [{ pattern: '/contacts', object: 'Contact', records: '/items' }] });

t.test('Salesforce: errorCode, message and fields pass; DUPLICATES_DETECTED loses its records', async (t) => {
  const body = [
    {
      duplicateResult: { matchResults: [{ matchRecords: [{ record: { Id: '003x', Tenant__c: 'globex', SSN__c: '078-05-1120' } }] }] },
      errorCode: 'DUPLICATES_DETECTED',
      message: 'Use one of these records?',
      fields: [],
    },
    { errorCode: 'REQUIRED_FIELD_MISSING', message: 'Required fields are missing: [Name]', fields: ['Name'] },
  ];
  const before = JSON.stringify(body);
  t.strictSame(sf.errorBody(body), {
    body: [
      { errorCode: 'DUPLICATES_DETECTED', message: 'Use one of these records?', fields: [] },
      { errorCode: 'REQUIRED_FIELD_MISSING', message: 'Required fields are missing: [Name]', fields: ['Name'] },
    ],
    dropped: ['/0/duplicateResult'],
    droppedTotal: 1,
    rewritten: [],
  });
  t.equal(JSON.stringify(body), before, 'the parsed upstream value is not changed');
});

t.test('Salesforce: members of the right name but the wrong type are dropped too', async (t) => {
  const r = sf.errorBody([{ errorCode: { Id: '003x' }, message: ['a'], fields: ['Name', { Id: '003x' }], extra: 'x' }, 'loose', 7, null]);
  t.strictSame(r.body, [{}]);
  t.strictSame(r.dropped, ['/0/errorCode', '/0/message', '/0/fields', '/0/extra', '/1', '/2', '/3']);
});

t.test('Salesforce: an OAuth-style object and a bare message', async (t) => {
  t.strictSame(sf.errorBody({ error: 'invalid_grant', error_description: 'expired', records: [{ Id: '003x' }] }), {
    body: { error: 'invalid_grant', error_description: 'expired' },
    dropped: ['/records'],
    droppedTotal: 1,
    rewritten: [],
  });
  t.strictSame(sf.errorBody('Session expired or invalid'), { body: 'Session expired or invalid', dropped: [], droppedTotal: 0, rewritten: [] });
  t.strictSame(sf.errorBody('duplicates value on record with id: 0035g00000AbCdEAAA'), { body: 'duplicates value on record with id: [id]', dropped: [], droppedTotal: 0, rewritten: [''] }, 'a bare message loses record ids too');
});

t.test('Salesforce: record ids are taken out of messages (DUPLICATE_VALUE names the other record)', async (t) => {
  const r = sf.errorBody([
    { errorCode: 'DUPLICATE_VALUE', message: 'duplicate value found: Email__c duplicates value on record with id: 0035g00000AbCdE', fields: [] },
    { errorCode: 'X', message: 'ids 0035g00000AbCdEAAA and 001000000000001 (and 003000000000001AAA).' },
    { errorCode: 'FIELD_CUSTOM_VALIDATION_EXCEPTION', message: 'characteristics of REQUIRED_FIELD_MISSING 12345 abc' },
  ]);
  t.strictSame(r.body, [
    { errorCode: 'DUPLICATE_VALUE', message: 'duplicate value found: Email__c duplicates value on record with id: [id]', fields: [] },
    { errorCode: 'X', message: 'ids [id] and [id] (and [id]).' },
    { errorCode: 'FIELD_CUSTOM_VALIDATION_EXCEPTION', message: 'characteristics of REQUIRED_FIELD_MISSING 12345 abc' },
  ], 'a 15-letter word without a digit, a short number and a code are not ids');
  t.strictSame(r.rewritten, ['/0/message', '/1/message']);
  t.strictSame(r.dropped, []);
});

t.test('numbers too long for a JS number (JSON.rawJSON) are scalars, not objects', async (t) => {
  const raw = (JSON as unknown as { rawJSON(s: string): object }).rawJSON('123456789012345678901');
  const g = generic.errorBody({ code: raw, trace_id: { id: raw } });
  t.strictSame(Object.keys(g.body as object), ['code'], 'a long-number member passes as a scalar');
  t.equal(JSON.stringify(g.body), '{"code":123456789012345678901}', 'and keeps its digits');
  t.strictSame(g.dropped, ['/trace_id']);
  t.strictSame(sf.errorBody([raw]).dropped, ['/0'], 'an array element that is a number is not an error object');
});

t.test('generic JSON: scalar values of the usual error members pass, everything else is dropped', async (t) => {
  const r = generic.errorBody({ type: 'about:blank', title: 'Conflict', status: 409, retry: false, detail: null, existing: { id: 7, tenant: 'globex' }, items: [{ id: 8 }] });
  t.strictSame(r.body, { type: 'about:blank', title: 'Conflict', status: 409, detail: null });
  t.strictSame(r.dropped, ['/retry', '/existing', '/items']);
  t.strictSame(generic.errorBody([{ code: 'E1', rows: [1] }, [2]]).body, [{ code: 'E1' }], 'an array of error objects: the same per element');
  // A 409 that quotes the existing record flat: only the error members survive.
  const flat = generic.errorBody({ error: 'conflict', message: 'exists', id: 7, tenant: 'globex', ssn: '078-05-1120', email: 'a@globex.example' });
  t.strictSame(flat.body, { error: 'conflict', message: 'exists' });
  t.strictSame(flat.dropped, ['/id', '/tenant', '/ssn', '/email']);
  t.strictSame(generic.errorBody({ message: { text: 'nested' } }).dropped, ['/message'], 'an error member with a nested value is dropped too');
});

t.test('pointers are escaped; the list is capped, the total is not', async (t) => {
  t.strictSame(reduceErrorBody({ 'a/b~c': 1 }, () => false).dropped, ['/a~1b~0c']);
  const many = Object.fromEntries(Array.from({ length: MAX_DROPPED + 25 }, (_, i) => [`k${i}`, { nested: i }]));
  const r = generic.errorBody(many);
  t.equal(r.dropped.length, MAX_DROPPED);
  t.equal(r.droppedTotal, MAX_DROPPED + 25);
  t.strictSame(r.body, {});
});
