import t from 'tap';
import { checkDecision } from '../../../gateway/policy/contract.ts';

const field = (f = 'Tenant__c', operator = 'eq', value: unknown = 'acme') => ({ type: 'field', field: f, operator, value });
const and = (...value: unknown[]) => ({ type: 'compound', operator: 'and', value });
const allowWith = (obligations: unknown) => ({ allow: true, reasons: [], obligations });

t.test('a valid full decision comes back exactly', async (t) => {
  const rows = and(field(), field('Region__c', 'in', ['EU']), { type: 'compound', operator: 'not', value: [field('Status', 'eq', 'Closed')] });
  const fields = { Contact: { SSN__c: { remove: {} }, Email: { replace: { value: '***' } }, Phone: { replace: { value: null } } } };
  const d = checkDecision({ allow: true, reasons: [{ code: 'allow.role', message: 'role sales may list Contact' }], obligations: { rows, fields } });
  t.strictSame(d, { allow: true, reasons: [{ code: 'allow.role', message: 'role sales may list Contact' }], obligations: { rows, fields } });
});

t.test('minimal decisions', async (t) => {
  t.strictSame(checkDecision({ allow: true, reasons: [] }), { allow: true, reasons: [], obligations: {} }, 'obligations absent');
  t.strictSame(checkDecision({ allow: true, reasons: [], obligations: {} }), { allow: true, reasons: [], obligations: {} });
  t.strictSame(checkDecision({ allow: false, reasons: [{ code: 'device.unmanaged', message: 'm' }], obligations: {} }), {
    allow: false,
    reasons: [{ code: 'device.unmanaged', message: 'm' }],
    obligations: {},
  });
  t.strictSame(
    checkDecision({ allow: false, reasons: [{ code: 'a.b', message: 'm', extra: 1 }] }),
    { allow: false, reasons: [{ code: 'a.b', message: 'm' }], obligations: {} },
    'extra keys of a reason are dropped',
  );
  for (const op of ['eq', 'ne', 'lt', 'lte', 'gt', 'gte']) t.equal(typeof checkDecision(allowWith({ rows: field('A', op, 1) })), 'object', `field operator ${op}`);
  for (const op of ['in', 'nin']) t.equal(typeof checkDecision(allowWith({ rows: field('A', op, []) })), 'object', `field operator ${op}`);
  t.equal(typeof checkDecision(allowWith({ rows: field('A', 'eq', null) })), 'object', 'value null is a value');
});

t.test('every rejection names the path', async (t) => {
  const cases: [string, unknown, string][] = [
    ['undefined', undefined, 'decision: must be an object (is the entrypoint defined for this input?)'],
    ['array', [], 'decision: must be an object (is the entrypoint defined for this input?)'],
    ['null', null, 'decision: must be an object (is the entrypoint defined for this input?)'],
    ['allow missing', { reasons: [] }, 'decision.allow: must be a boolean'],
    ['allow string', { allow: 'true', reasons: [] }, 'decision.allow: must be a boolean'],
    ['reasons missing', { allow: true }, 'decision.reasons: must be an array'],
    ['reasons object', { allow: true, reasons: {} }, 'decision.reasons: must be an array'],
    ['reason a string', { allow: false, reasons: ['nope'] }, 'decision.reasons[0]: must be {code: dotted string, message: string}'],
    ['reason code undotted', { allow: false, reasons: [{ code: 'denied', message: 'm' }] }, 'decision.reasons[0]: must be {code: dotted string, message: string}'],
    ['reason code uppercase', { allow: false, reasons: [{ code: 'Policy.Denied', message: 'm' }] }, 'decision.reasons[0]: must be {code: dotted string, message: string}'],
    ['reason code trailing dot', { allow: false, reasons: [{ code: 'a.', message: 'm' }] }, 'decision.reasons[0]: must be {code: dotted string, message: string}'],
    ['second reason no message', { allow: false, reasons: [{ code: 'a.b', message: 'm' }, { code: 'a.c' }] }, 'decision.reasons[1]: must be {code: dotted string, message: string}'],
    ['message a number', { allow: false, reasons: [{ code: 'a.b', message: 1 }] }, 'decision.reasons[0]: must be {code: dotted string, message: string}'],
    ['deny with empty reasons', { allow: false, reasons: [] }, 'decision.reasons: must not be empty when allow is false'],
    ['obligations array', { allow: true, reasons: [], obligations: [] }, 'decision.obligations: must be an object'],
    ['obligations string', { allow: true, reasons: [], obligations: 'rows' }, 'decision.obligations: must be an object'],
    ['unknown obligation', allowWith({ columns: {} }), 'decision.obligations.columns: unknown obligation'],
    ['unknown obligation beside valid ones', allowWith({ rows: field(), limit: 10 }), 'decision.obligations.limit: unknown obligation'],
    ['rows not an object', allowWith({ rows: 'true' }), 'decision.obligations.rows: must be an object'],
    ['rows unknown type', allowWith({ rows: { type: 'sql', value: 'x' } }), 'decision.obligations.rows.type: must be "field" or "compound"'],
    ['field empty', allowWith({ rows: field('') }), 'decision.obligations.rows.field: must be a non-empty string'],
    ['field not a string', allowWith({ rows: { type: 'field', field: 1, operator: 'eq', value: 1 } }), 'decision.obligations.rows.field: must be a non-empty string'],
    ['field operator unknown', allowWith({ rows: field('A', 'like', 'x') }), 'decision.obligations.rows.operator: unknown field operator "like"'],
    ['field operator missing', allowWith({ rows: { type: 'field', field: 'A', value: 1 } }), 'decision.obligations.rows.operator: unknown field operator undefined'],
    ['in needs an array', allowWith({ rows: field('A', 'in', 'EU') }), 'decision.obligations.rows.value: must be an array for in'],
    ['nin needs an array', allowWith({ rows: field('A', 'nin', 1) }), 'decision.obligations.rows.value: must be an array for nin'],
    ['value missing', allowWith({ rows: { type: 'field', field: 'A', operator: 'eq' } }), 'decision.obligations.rows.value: is required'],
    ['compound operator unknown', allowWith({ rows: { type: 'compound', operator: 'xor', value: [field()] } }), 'decision.obligations.rows.operator: unknown compound operator "xor"'],
    ['compound empty', allowWith({ rows: and() }), 'decision.obligations.rows.value: must be a non-empty array'],
    ['compound value not an array', allowWith({ rows: { type: 'compound', operator: 'or', value: field() } }), 'decision.obligations.rows.value: must be a non-empty array'],
    ['not with two children', allowWith({ rows: { type: 'compound', operator: 'not', value: [field(), field()] } }), 'decision.obligations.rows.value: not takes exactly one condition'],
    ['bad nested child', allowWith({ rows: and(field(), and(field('B', 'in', 'x'))) }), 'decision.obligations.rows.value[1].value[0].value: must be an array for in'],
    ['fields not an object', allowWith({ fields: [] }), 'decision.obligations.fields: must be an object'],
    ['fields per object not an object', allowWith({ fields: { Contact: true } }), 'decision.obligations.fields.Contact: must be an object'],
    ['field rule not an object', allowWith({ fields: { Contact: { Email: 'mask' } } }), 'decision.obligations.fields.Contact.Email: must be an object'],
    ['field rule empty', allowWith({ fields: { Contact: { Email: {} } } }), 'decision.obligations.fields.Contact.Email: must have exactly one of remove, replace'],
    ['field rule both', allowWith({ fields: { Contact: { Email: { remove: {}, replace: { value: 1 } } } } }), 'decision.obligations.fields.Contact.Email: must have exactly one of remove, replace'],
    ['remove with content', allowWith({ fields: { Contact: { Email: { remove: { x: 1 } } } } }), 'decision.obligations.fields.Contact.Email: must be {"remove":{}} or {"replace":{"value":…}}'],
    ['remove true', allowWith({ fields: { Contact: { Email: { remove: true } } } }), 'decision.obligations.fields.Contact.Email: must be {"remove":{}} or {"replace":{"value":…}}'],
    ['replace without value', allowWith({ fields: { Contact: { Email: { replace: {} } } } }), 'decision.obligations.fields.Contact.Email: must be {"remove":{}} or {"replace":{"value":…}}'],
    ['replace with an extra key', allowWith({ fields: { Contact: { Email: { replace: { value: 1, also: 2 } } } } }), 'decision.obligations.fields.Contact.Email: must be {"remove":{}} or {"replace":{"value":…}}'],
    ['unknown rule kind', allowWith({ fields: { Contact: { Email: { hash: {} } } } }), 'decision.obligations.fields.Contact.Email: must be {"remove":{}} or {"replace":{"value":…}}'],
  ];
  for (const [name, result, want] of cases) t.equal(checkDecision(result), want, name);
});

t.test('nesting depth limit: 16 levels below the root allowed, 17 refused', async (t) => {
  const nest = (levels: number): unknown => {
    let c: unknown = field();
    for (let i = 0; i < levels; i++) c = and(c);
    return c;
  };
  // a field condition under 16 compounds sits at depth 16
  t.equal(typeof checkDecision(allowWith({ rows: nest(16) })), 'object', '16 compounds accepted');
  const deep = checkDecision(allowWith({ rows: nest(17) }));
  t.equal(deep, `decision.obligations.rows${'.value[0]'.repeat(17)}: nested deeper than 16`);
  const bomb = checkDecision(allowWith({ rows: nest(10_000) }));
  t.equal(bomb, `decision.obligations.rows${'.value[0]'.repeat(17)}: nested deeper than 16`, 'a deep bomb stops at the limit');
});
