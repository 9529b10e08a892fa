import t from 'tap';
import { compileRowCondition, type RowPredicate } from '../../../gateway/filter/rows.ts';
import { isRefusal } from '../../../gateway/errors.ts';
import type { UcastCondition } from '../../../gateway/types.ts';

const f = (field: string, operator: string, value: unknown) => ({ type: 'field', field, operator, value }) as UcastCondition;
const c = (operator: 'and' | 'or' | 'not', ...value: UcastCondition[]): UcastCondition => ({ type: 'compound', operator, value });

/** The compiled predicate, or a thrown error (failing the test) when it was refused. */
function compile(cond: UcastCondition | undefined): RowPredicate {
  const p = compileRowCondition(cond);
  if (isRefusal(p)) throw new Error(`unexpected refusal ${p.detail ?? ''}`);
  return p;
}

// [name, condition, record, expected]
const table: [string, UcastCondition, Record<string, unknown>, boolean][] = [
  ['eq match', f('tenant_id', 'eq', 'acme'), { tenant_id: 'acme' }, true],
  ['eq other', f('tenant_id', 'eq', 'acme'), { tenant_id: 'evil' }, false],
  ['eq missing', f('tenant_id', 'eq', 'acme'), {}, false],
  ['eq null field', f('tenant_id', 'eq', 'acme'), { tenant_id: null }, false],
  ['eq other type', f('n', 'eq', 1), { n: '1' }, false],
  ['eq array field (no any-element match)', f('tenant_id', 'eq', 'acme'), { tenant_id: ['acme', 'evil'] }, false],
  ['eq object field', f('tenant_id', 'eq', 'acme'), { tenant_id: { eq: 'acme' } }, false],
  ['eq boolean', f('active', 'eq', true), { active: true }, true],
  ['ne match', f('Region__c', 'ne', 'CN'), { Region__c: 'EU' }, true],
  ['ne equal', f('Region__c', 'ne', 'CN'), { Region__c: 'CN' }, false],
  ['ne missing fails closed', f('Region__c', 'ne', 'CN'), {}, false],
  ['ne null fails closed', f('Region__c', 'ne', 'CN'), { Region__c: null }, false],
  ['ne other type fails closed', f('Region__c', 'ne', 'CN'), { Region__c: 5 }, false],
  ['ne array field fails closed', f('Region__c', 'ne', 'CN'), { Region__c: ['CN'] }, false],
  ['in match', f('Region__c', 'in', ['EU', 'US']), { Region__c: 'US' }, true],
  ['in no match', f('Region__c', 'in', ['EU', 'US']), { Region__c: 'CN' }, false],
  ['in missing', f('Region__c', 'in', ['EU']), {}, false],
  ['in empty list', f('Region__c', 'in', []), { Region__c: 'EU' }, false],
  ['in array field (no any-element match)', f('Region__c', 'in', ['EU']), { Region__c: ['EU'] }, false],
  ['nin match', f('Region__c', 'nin', ['CN']), { Region__c: 'EU' }, true],
  ['nin listed', f('Region__c', 'nin', ['CN']), { Region__c: 'CN' }, false],
  ['nin missing fails closed', f('Region__c', 'nin', ['CN']), {}, false],
  ['nin null fails closed', f('Region__c', 'nin', ['CN']), { Region__c: null }, false],
  ['nin empty list, present value', f('Region__c', 'nin', []), { Region__c: 'CN' }, true],
  ['nin empty list, missing value', f('Region__c', 'nin', []), {}, false],
  ['lt number', f('Amount', 'lt', 100), { Amount: 99 }, true],
  ['lt equal', f('Amount', 'lt', 100), { Amount: 100 }, false],
  ['lte equal', f('Amount', 'lte', 100), { Amount: 100 }, true],
  ['gt', f('Amount', 'gt', 100), { Amount: 101 }, true],
  ['gte less', f('Amount', 'gte', 100), { Amount: 99 }, false],
  ['lt string', f('Name', 'lt', 'm'), { Name: 'a' }, true],
  ['lt missing', f('Amount', 'lt', 100), {}, false],
  ['lt string vs number (no JS coercion)', f('Amount', 'lt', 100), { Amount: 'abc' }, false],
  ['gte string vs number (no JS coercion)', f('Amount', 'gte', 100), { Amount: '5' }, false],
  ['lt raw big number is not comparable', f('Amount', 'lt', 100), { Amount: JSON.parse('{"x":1}', (_k, v, ctx?: { source?: string }) => (typeof v === 'number' ? (JSON as unknown as { rawJSON(s: string): object }).rawJSON(ctx?.source ?? '') : v)) }, false],
  ['dotted path', f('Account.Tenant__c', 'eq', 'acme'), { Account: { Tenant__c: 'acme' } }, true],
  ['dotted path through null', f('Account.Tenant__c', 'eq', 'acme'), { Account: null }, false],
  ['dotted path ne through null', f('Account.Tenant__c', 'ne', 'x'), { Account: null }, false],
  ['inherited property is not a field', f('constructor', 'ne', 'x'), {}, false],
  ['inherited toString is not a field', f('toString', 'ne', 'x'), {}, false],
  ['and both', c('and', f('a', 'eq', 1), f('b', 'eq', 2)), { a: 1, b: 2 }, true],
  ['and one', c('and', f('a', 'eq', 1), f('b', 'eq', 2)), { a: 1, b: 3 }, false],
  ['and empty is true', c('and'), {}, true],
  ['or one', c('or', f('a', 'eq', 1), f('b', 'eq', 2)), { a: 0, b: 2 }, true],
  ['or none', c('or', f('a', 'eq', 1), f('b', 'eq', 2)), { a: 0, b: 0 }, false],
  ['or empty is false', c('or'), { a: 1 }, false],
  ['not eq, other value', c('not', f('Region__c', 'eq', 'CN')), { Region__c: 'EU' }, true],
  ['not eq, equal', c('not', f('Region__c', 'eq', 'CN')), { Region__c: 'CN' }, false],
  ['not eq, missing fails closed', c('not', f('Region__c', 'eq', 'CN')), {}, false],
  ['not in, missing fails closed', c('not', f('Region__c', 'in', ['CN'])), {}, false],
  ['not lt is gte', c('not', f('Amount', 'lt', 100)), { Amount: 100 }, true],
  ['not lt, missing', c('not', f('Amount', 'lt', 100)), {}, false],
  ['not not eq', c('not', c('not', f('a', 'eq', 1))), { a: 1 }, true],
  ['not and (De Morgan)', c('not', c('and', f('a', 'eq', 1), f('b', 'eq', 2))), { a: 1, b: 3 }, true],
  ['not and, all true', c('not', c('and', f('a', 'eq', 1), f('b', 'eq', 2))), { a: 1, b: 2 }, false],
  ['not or (De Morgan)', c('not', c('or', f('a', 'eq', 1), f('b', 'eq', 2))), { a: 0, b: 0 }, true],
  ['not or, one missing', c('not', c('or', f('a', 'eq', 1), f('b', 'eq', 2))), { a: 0 }, false],
  ['tenant and region (design example)', c('and', f('tenant_id', 'eq', 'acme'), f('Region__c', 'in', ['EU'])), { tenant_id: 'acme', Region__c: 'EU' }, true],
  ['tenant and region, other tenant', c('and', f('tenant_id', 'eq', 'acme'), f('Region__c', 'in', ['EU'])), { tenant_id: 'evil', Region__c: 'EU' }, false],
];

t.test('row conditions (table)', async (t) => {
  for (const [name, cond, record, want] of table) {
    t.equal(compile(cond)(record), want, name);
  }
});

t.test('no row obligation keeps every row', async (t) => {
  t.equal(compile(undefined)({}), true);
});

t.test('invalid conditions are refused at compile time', async (t) => {
  const bad: [string, unknown, RegExp][] = [
    ['unknown field operator', f('a', 'regex', 'x'), /rows\.operator: unknown operator "regex"/],
    ['mongo operator', f('a', 'exists', true), /unknown operator "exists"/],
    ['unknown compound operator', { type: 'compound', operator: 'nor', value: [] }, /unknown operator "nor"/],
    ['unknown type', { type: 'document', operator: 'where', value: 'x' }, /rows\.type/],
    ['not with two operands', c('not', f('a', 'eq', 1), f('b', 'eq', 1)), /not takes exactly one/],
    ['not with none', c('not'), /not takes exactly one/],
    ['nested unknown operator', c('and', f('a', 'eq', 1), c('or', f('b', 'like', 'x'))), /rows\.value\[1\]\.value\[0\]\.operator/],
    ['in without array', f('a', 'in', 'EU'), /in needs an array/],
    ['in with mixed types', f('a', 'in', ['1', 1]), /one type/],
    ['in with null', f('a', 'in', [null]), /strings, numbers or booleans/],
    ['eq null', f('a', 'eq', null), /null never matches/],
    ['eq object', f('a', 'eq', { $ne: 1 }), /rows\.value/],
    ['lt boolean', f('a', 'lt', true), /lt needs a string or a number/],
    ['empty field', f('', 'eq', 1), /rows\.field/],
    ['empty path segment', f('a..b', 'eq', 1), /rows\.field/],
    ['ucast ITSELF field', f('__itself__', 'eq', 1), /rows\.field/],
    ['compound value not an array', { type: 'compound', operator: 'and', value: {} }, /must be an array/],
    ['condition not an object', 'tenant_id = acme', /rows: must be an object/],
  ];
  for (const [name, cond, detail] of bad) {
    const r = compileRowCondition(cond as UcastCondition);
    t.ok(isRefusal(r), name);
    if (isRefusal(r)) {
      t.equal(r.code, 'GW_ERR_POLICY_ERROR', `${name}: code`);
      t.match(r.detail, detail, `${name}: detail`);
    }
  }
});
