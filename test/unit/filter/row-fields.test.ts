import t from 'tap';
import { conditionFields, rowFieldsMissing } from '../../../gateway/filter/row-fields.ts';
import type { UcastCondition } from '../../../gateway/types.ts';

const rows: UcastCondition = {
  type: 'compound',
  operator: 'and',
  value: [
    { type: 'field', field: 'Tenant__c', operator: 'eq', value: 'acme' },
    { type: 'compound', operator: 'not', value: [{ type: 'field', field: 'Region__c', operator: 'nin', value: ['EU'] }] },
  ],
};

t.test('conditionFields walks compounds', async (t) => {
  t.same([...conditionFields(rows)].sort(), ['Region__c', 'Tenant__c']);
  t.same([...conditionFields(undefined)], []);
});

t.test('rowFieldsMissing: sorted, case-insensitive, nothing when all fields are requested', async (t) => {
  t.same(rowFieldsMissing(rows, ['Id', 'Name']), ['Region__c', 'Tenant__c']);
  t.same(rowFieldsMissing(rows, ['id', 'tenant__c']), ['Region__c']);
  t.same(rowFieldsMissing(rows, ['TENANT__C', 'region__c']), []);
  t.same(rowFieldsMissing(rows, undefined), [], 'no field list: every field comes back');
  t.same(rowFieldsMissing(undefined, ['Id']), [], 'no row condition');
});
