import t from 'tap';
import { applyFieldRules, rulesFor } from '../../../gateway/filter/fields.ts';
import { createReportBuilder } from '../../../gateway/filter/report.ts';
import type { FieldRule } from '../../../gateway/types.ts';

const remove: FieldRule = { remove: {} };
const mask = (value: unknown): FieldRule => ({ replace: { value } });

t.test('remove and replace, reporting only fields present', async (t) => {
  const record = { attributes: { type: 'Contact' }, Name: 'Ada', Email: 'ada@x', SSN__c: '123' };
  const out = applyFieldRules(record, { SSN__c: remove, Email: mask('***'), Phone: remove, Fax: mask('x') });
  t.same(out.record, { attributes: { type: 'Contact' }, Name: 'Ada', Email: '***' });
  t.notOk(Object.hasOwn(out.record, 'SSN__c'), 'SSN__c is deleted, not set to undefined');
  t.same(out.masked, ['Email']);
  t.same(out.removed, ['SSN__c']);
  t.same(record, { attributes: { type: 'Contact' }, Name: 'Ada', Email: 'ada@x', SSN__c: '123' }, 'input untouched');
});

t.test('replace keeps a null or structured value as given', async (t) => {
  const out = applyFieldRules({ a: 1, b: 2 }, { a: mask(null), b: mask({ masked: true }) });
  t.same(out.record, { a: null, b: { masked: true } });
  t.same(out.masked, ['a', 'b']);
});

t.test('the attributes key is never touched', async (t) => {
  const out = applyFieldRules({ attributes: { type: 'Contact', url: '/x' }, Id: '1' }, { attributes: remove });
  t.same(out.record, { attributes: { type: 'Contact', url: '/x' }, Id: '1' });
  t.same(out.removed, []);
  const masked = applyFieldRules({ attributes: { type: 'Contact' } }, { attributes: mask('x') });
  t.same(masked.record, { attributes: { type: 'Contact' } });
});

t.test('a malformed rule removes the field (fail closed)', async (t) => {
  const rules = { a: { replace: {} }, b: { mask: true }, c: null } as unknown as Record<string, FieldRule>;
  const out = applyFieldRules({ a: 'secret', b: 'secret', c: 'secret', d: 'ok' }, rules);
  t.same(out.record, { d: 'ok' });
  t.same(out.removed, ['a', 'b', 'c']);
});

t.test('no rules: a copy, nothing reported', async (t) => {
  const rec = { a: 1 };
  const out = applyFieldRules(rec, undefined);
  t.same(out, { record: { a: 1 }, masked: [], removed: [] });
  t.not(out.record, rec);
});

t.test('ignoreCase matches keys case-insensitively and reports the rule name', async (t) => {
  const out = applyFieldRules({ ssn__c: '1', EMAIL: 'x', Name: 'n' }, { SSN__c: remove, Email: mask('***') }, { ignoreCase: true });
  t.same(out.record, { EMAIL: '***', Name: 'n' });
  t.same(out.removed, ['SSN__c']);
  t.same(out.masked, ['Email']);
  const exact = applyFieldRules({ ssn__c: '1' }, { SSN__c: remove });
  t.same(exact.record, { ssn__c: '1' }, 'exact match by default');
  const conflict = applyFieldRules({ ssn: '1' }, { SSN: mask('x'), ssn: remove }, { ignoreCase: true });
  t.same(conflict.record, {}, 'remove wins over replace for names equal but for case');
});

t.test('inherited names are not rules; a __proto__ key stays data', async (t) => {
  const out = applyFieldRules({ constructor: 'c', toString: 't' }, {});
  t.same(out.record, { constructor: 'c', toString: 't' });
  const rules = JSON.parse('{"__proto__": {"replace": {"value": "x"}}}') as Record<string, FieldRule>;
  const rec = JSON.parse('{"__proto__": "secret", "a": 1}') as Record<string, unknown>;
  const p = applyFieldRules(rec, rules);
  t.equal(Object.getPrototypeOf(p.record), Object.prototype, 'prototype not replaced');
  t.equal(Object.getOwnPropertyDescriptor(p.record, '__proto__')?.value, 'x');
});

t.test('rulesFor picks the object type, optionally ignoring case', async (t) => {
  const fields = { Contact: { SSN__c: remove } };
  t.same(rulesFor(fields, 'Contact'), { SSN__c: remove });
  t.equal(rulesFor(fields, 'contact'), undefined);
  t.same(rulesFor(fields, 'contact', { ignoreCase: true }), { SSN__c: remove });
  t.equal(rulesFor(fields, 'Account', { ignoreCase: true }), undefined);
  t.equal(rulesFor(undefined, 'Contact'), undefined);
  t.equal(rulesFor(fields, 'constructor'), undefined);
});

t.test('report: sorted unique names per type, sorted types', async (t) => {
  const r = createReportBuilder();
  r.row(true);
  r.row(false);
  r.row(true);
  r.fields('Contact', ['Email'], ['SSN__c']);
  r.fields('Contact', ['Email', 'Phone'], []);
  r.fields('Account', [], ['AnnualRevenue']);
  r.fields('Lead', [], []);
  r.delivered('Contact', '003B', ['Name', 'Id']);
  r.delivered('Contact', '003A', ['Id']);
  r.delivered('Contact', '003A', ['Id']);
  r.delivered('Account', undefined, ['Name']);
  const rep = r.build();
  t.same(rep, {
    rowsIn: 3, rowsOut: 2, masked: { Contact: ['Email', 'Phone'] }, removed: { Account: ['AnnualRevenue'], Contact: ['SSN__c'] },
    ids: { Contact: ['003A', '003B'] }, delivered: { Account: ['Name'], Contact: ['Id', 'Name'] },
  });
  t.same(Object.keys(rep.removed), ['Account', 'Contact']);
});
