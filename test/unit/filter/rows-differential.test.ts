/**
 * Differential test of the compiled row predicate (gateway/filter/rows.ts) against the reference
 * it replaced: the same validation, evaluated per record by @ucast/js with this module's former
 * overrides (kept below as it was, its module-level names prefixed). Seeded random conditions (nested and/or/not, all field
 * operators, scalar values and lists, awkward field names and dotted paths) are evaluated on
 * seeded random records (missing fields, null, nested and null-prototype objects, arrays, wrong
 * types, non-finite numbers, JSON.rawJSON values, own `__proto__` keys from JSON.parse, inherited
 * values); both must give the same answer, or the same refusal. A failure names the seed.
 */
import t from 'tap';
import { CompoundCondition, FieldCondition, ITSELF, type Condition } from '@ucast/core';
import { and, createJsInterpreter, eq, gt, gte, lt, lte, ne, nin, or, within, type JsInterpreter } from '@ucast/js';
import { compileRowCondition, type RowPredicate } from '../../../gateway/filter/rows.ts';
import { isRefusal, refuse } from '../../../gateway/errors.ts';
import type { Refusal, UcastCondition } from '../../../gateway/types.ts';
import { seededRandom } from '../../fixtures/seeded-random.ts';

// ---------------------------------------------------------------------------------------------
// Reference: gateway/filter/rows.ts as it was before the compiled predicate (ucast-interpreted).
// ---------------------------------------------------------------------------------------------
type RefFieldOp = 'eq' | 'ne' | 'in' | 'nin' | 'lt' | 'lte' | 'gt' | 'gte';
type RefScalar = string | number | boolean;

const REF_FIELD_OPS: ReadonlySet<string> = new Set<RefFieldOp>(['eq', 'ne', 'in', 'nin', 'lt', 'lte', 'gt', 'gte']);
const REF_LIST_OPS: ReadonlySet<string> = new Set(['in', 'nin']);
const REF_ORDER_OPS: ReadonlySet<string> = new Set(['lt', 'lte', 'gt', 'gte']);

const REF_COMPLEMENT: Readonly<Record<RefFieldOp, RefFieldOp>> = {
  eq: 'ne', ne: 'eq', in: 'nin', nin: 'in', lt: 'gte', gte: 'lt', gt: 'lte', lte: 'gt',
};

function ownGet(object: unknown, key: string): unknown {
  if (object === null || typeof object !== 'object') return undefined;
  return Object.hasOwn(object, key) ? (object as Record<string, unknown>)[key] : undefined;
}

function isScalar(v: unknown): v is RefScalar {
  return typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v));
}

function guarded(op: JsInterpreter<FieldCondition<never>>, list: boolean): JsInterpreter<FieldCondition<unknown>> {
  return (node, record, ctx) => {
    const v: unknown = ctx.get(record, node.field);
    if (!isScalar(v)) return false;
    if (list) {
      const items = node.value as readonly RefScalar[];
      const first = items[0];
      if (first !== undefined && typeof first !== typeof v) return false;
    } else if (typeof node.value !== typeof v) {
      return false;
    }
    return op(node as FieldCondition<never>, record, ctx);
  };
}

const interpret = createJsInterpreter(
  {
    eq: guarded(eq, false),
    ne: guarded(ne, false),
    in: guarded(within as JsInterpreter<FieldCondition<never>>, true),
    nin: guarded(nin as JsInterpreter<FieldCondition<never>>, true),
    lt: guarded(lt as JsInterpreter<FieldCondition<never>>, false),
    lte: guarded(lte as JsInterpreter<FieldCondition<never>>, false),
    gt: guarded(gt as JsInterpreter<FieldCondition<never>>, false),
    gte: guarded(gte as JsInterpreter<FieldCondition<never>>, false),
    and,
    or,
  } as unknown as Record<string, JsInterpreter<Condition>>,
  { get: ownGet, isArray: () => false },
);

function referenceCompile(condition: UcastCondition | undefined): RowPredicate | Refusal {
  if (condition === undefined) return () => true;
  const built = build(condition as unknown, false, 'rows');
  if (typeof built === 'string') return refuse('GW_ERR_POLICY_ERROR', `row condition ${built}`);
  return (record) => interpret(built, record) === true;
}

function build(node: unknown, negate: boolean, at: string): Condition | string {
  if (node === null || typeof node !== 'object' || Array.isArray(node)) return `${at}: must be an object`;
  const { type, operator, value, field } = node as Record<string, unknown>;
  if (type === 'field') {
    if (typeof operator !== 'string' || !REF_FIELD_OPS.has(operator)) return `${at}.operator: unknown operator ${JSON.stringify(operator)}`;
    if (typeof field !== 'string' || field === '' || field === ITSELF || field.split('.').includes('')) {
      return `${at}.field: must be a non-empty field name or dotted path`;
    }
    const bad = checkValue(operator, value);
    if (bad !== undefined) return `${at}.value: ${bad}`;
    const op = negate ? REF_COMPLEMENT[operator as RefFieldOp] : (operator as RefFieldOp);
    return new FieldCondition(op, field, value);
  }
  if (type === 'compound') {
    if (operator !== 'and' && operator !== 'or' && operator !== 'not') return `${at}.operator: unknown operator ${JSON.stringify(operator)}`;
    if (!Array.isArray(value)) return `${at}.value: must be an array of conditions`;
    if (operator === 'not') {
      if (value.length !== 1) return `${at}.value: not takes exactly one condition`;
      return build(value[0], !negate, `${at}.value[0]`);
    }
    const children: Condition[] = [];
    for (const [i, child] of value.entries()) {
      const c = build(child, negate, `${at}.value[${i}]`);
      if (typeof c === 'string') return c;
      children.push(c);
    }
    const op = (operator === 'and') !== negate ? 'and' : 'or';
    return new CompoundCondition(op, children);
  }
  return `${at}.type: must be "field" or "compound"`;
}

function checkValue(operator: string, value: unknown): string | undefined {
  if (REF_LIST_OPS.has(operator)) {
    if (!Array.isArray(value)) return `${operator} needs an array`;
    if (!value.every(isScalar)) return `${operator} needs strings, numbers or booleans`;
    const first: unknown = value[0];
    if (!value.every((v) => typeof v === typeof first)) return `${operator} needs values of one type`;
    return undefined;
  }
  if (REF_ORDER_OPS.has(operator)) {
    return typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value)) ? undefined : `${operator} needs a string or a number`;
  }
  return isScalar(value) ? undefined : `${operator} needs a string, number or boolean (null never matches)`;
}

const reference = { compileRowCondition: referenceCompile };

// ---------------------------------------------------------------------------------------------
// Generators
// ---------------------------------------------------------------------------------------------
type Rnd = () => number;
const rawJSON = (JSON as unknown as { rawJSON(text: string): object }).rawJSON;

const pick = <T>(rnd: Rnd, xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
const chance = (rnd: Rnd, p: number): boolean => rnd() < p;

const OPS = ['eq', 'ne', 'in', 'nin', 'lt', 'lte', 'gt', 'gte'] as const;
const STRINGS = ['acme', 'evil', 'EU', 'US', 'CN', '', 'a', 'b', 'Acme', '10', 'true', 'x', 'é', 'Z'] as const;
const NUMBERS = [0, -0, 1, 2, 10, -5, 2.5, 100, 1e21, Number.MAX_SAFE_INTEGER, -1e-7] as const;
const BOOLEANS = [true, false] as const;
/** Top-level keys of records, and the first segments of the condition's fields. */
const KEYS = ['Tenant__c', 'Region__c', 'Amount', 'Active', 'Name', 'constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf', 'length', '0', 'a', 'Account', 'tags'] as const;
const NESTED_KEYS = ['b', 'c', 'x', 'Tenant__c', '__proto__', 'constructor', 'toString', '0', '1', 'length', 'name'] as const;
const FIELDS = [
  'Tenant__c', 'Region__c', 'Amount', 'Active', 'Name', 'constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf', 'length', '0',
  'a.b', 'a.b.c', 'a.x', 'Account.Tenant__c', 'Account.__proto__.Tenant__c', 'tags.0', 'tags.1', 'tags.length', '__proto__.x', '__proto__.b',
  'constructor.name', 'constructor.b', 'toString.length', 'a.__proto__', 'a.constructor', 'a.toString', 'a.0', 'a.length', 'a.b.__proto__', 'Name.length',
] as const;

function scalarOf(rnd: Rnd, kind: 'string' | 'number' | 'boolean'): string | number | boolean {
  return kind === 'string' ? pick(rnd, STRINGS) : kind === 'number' ? pick(rnd, NUMBERS) : pick(rnd, BOOLEANS);
}

/** One random condition node; now and then an invalid one (then both must refuse alike). */
function genCondition(rnd: Rnd, depth: number): unknown {
  if (chance(rnd, 0.01)) return genInvalid(rnd);
  if (depth < 4 && chance(rnd, depth === 0 ? 0.75 : 0.4)) {
    const operator = pick(rnd, ['and', 'or', 'not', 'and', 'or', 'not'] as const);
    const n = operator === 'not' ? 1 : Math.floor(rnd() * 5); // 0..4 children, empty and/or included
    return { type: 'compound', operator, value: Array.from({ length: n }, () => genCondition(rnd, depth + 1)) };
  }
  const operator = pick(rnd, OPS);
  const field = pick(rnd, FIELDS);
  const ordered = operator === 'lt' || operator === 'lte' || operator === 'gt' || operator === 'gte';
  const kind = ordered ? pick(rnd, ['string', 'number'] as const) : pick(rnd, ['string', 'number', 'boolean', 'string'] as const);
  if (operator === 'in' || operator === 'nin') {
    const n = pick(rnd, [0, 1, 1, 2, 3, 5, 9, 12]); // across the Set threshold
    return { type: 'field', field, operator, value: Array.from({ length: n }, () => scalarOf(rnd, kind)) };
  }
  return { type: 'field', field, operator, value: scalarOf(rnd, kind) };
}

function genInvalid(rnd: Rnd): unknown {
  return pick(rnd, [
    { type: 'field', field: 'a', operator: 'regex', value: 'x' },
    { type: 'field', field: 'a', operator: 'eq', value: null },
    { type: 'field', field: 'a', operator: 'lt', value: true },
    { type: 'field', field: 'a', operator: 'gte', value: Number.POSITIVE_INFINITY },
    { type: 'field', field: 'a', operator: 'in', value: ['1', 1] },
    { type: 'field', field: 'a', operator: 'nin', value: 'EU' },
    { type: 'field', field: 'a', operator: 'in', value: [Number.NaN] },
    { type: 'field', field: '', operator: 'eq', value: 1 },
    { type: 'field', field: 'a..b', operator: 'eq', value: 1 },
    { type: 'field', field: ITSELF, operator: 'eq', value: 1 },
    { type: 'field', field: 5, operator: 'eq', value: 1 },
    { type: 'compound', operator: 'not', value: [] },
    { type: 'compound', operator: 'nor', value: [] },
    { type: 'compound', operator: 'and', value: {} },
    { type: 'document', operator: 'where', value: 'x' },
    [],
    null,
    'Tenant__c = acme',
  ]);
}

/** A random value for a record's field: scalars (often of the policy's types), and everything else. */
function genValue(rnd: Rnd, depth: number): unknown {
  const r = rnd();
  if (r < 0.3) return pick(rnd, STRINGS);
  if (r < 0.48) return pick(rnd, NUMBERS);
  if (r < 0.55) return pick(rnd, BOOLEANS);
  if (r < 0.6) return null;
  if (r < 0.62) return undefined;
  if (r < 0.64) return pick(rnd, [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]);
  if (r < 0.68) return rawJSON(pick(rnd, ['12345678901234567890', '10', '"acme"', 'true', 'null']));
  if (r < 0.8 && depth < 3) return Array.from({ length: Math.floor(rnd() * 4) }, () => genValue(rnd, depth + 1));
  if (depth < 3) return genObject(rnd, depth + 1, NESTED_KEYS);
  return pick(rnd, STRINGS);
}

/** Define own data properties (an own `__proto__` too, as JSON.parse does), on a chosen prototype. */
function genObject(rnd: Rnd, depth: number, keys: readonly string[]): Record<string, unknown> {
  const r = rnd();
  const proto = r < 0.1 ? null : r < 0.15 ? INHERITED : Object.prototype;
  const o = Object.create(proto) as Record<string, unknown>;
  for (const k of keys) {
    if (!chance(rnd, depth === 0 ? 0.6 : 0.45)) continue;
    Object.defineProperty(o, k, { value: genValue(rnd, depth), enumerable: true, writable: true, configurable: true });
  }
  return o;
}

/** A prototype carrying matching values: they are inherited, so they never count as fields. */
const INHERITED: object = Object.freeze({
  Tenant__c: 'acme', Region__c: 'EU', Amount: 10, Active: true, Name: 'a', length: 2, '0': 'x', b: 'a', c: 1, x: 'x', name: 'a',
  a: { b: 'a', c: 1 }, Account: { Tenant__c: 'acme' }, tags: ['x', 'y'],
});

/** The (path, value) of every field leaf of a condition, to plant matching values in records. */
function leavesOf(cond: unknown, out: [string[], unknown][] = []): [string[], unknown][] {
  if (cond === null || typeof cond !== 'object') return out;
  const { type, field, value } = cond as Record<string, unknown>;
  if (type === 'field' && typeof field === 'string') out.push([field.split('.'), value]);
  else if (Array.isArray(value)) for (const c of value) leavesOf(c, out);
  return out;
}

/** Set `path` in `record` to `value` (mostly as own properties), making objects (or arrays) on the way. */
function plant(rnd: Rnd, record: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let o = record;
  for (const [i, k] of path.entries()) {
    let v: unknown = value;
    if (i < path.length - 1) {
      const existing = Object.hasOwn(o, k) ? o[k] : undefined;
      v = existing !== null && typeof existing === 'object' && !Object.isFrozen(existing) && chance(rnd, 0.5)
        ? existing
        : /^\d+$/.test(path[i + 1]!) && chance(rnd, 0.5) ? [] : Object.create(chance(rnd, 0.2) ? null : Object.prototype);
    }
    // Now and then the value is inherited instead (from a prototype put under `o`): never a field.
    let target: object = o;
    if (chance(rnd, 0.15) && !Array.isArray(o) && Object.getPrototypeOf(o) === Object.prototype) {
      target = {};
      Object.setPrototypeOf(o, target);
    }
    try {
      Object.defineProperty(target, k, { value: v, enumerable: true, writable: true, configurable: true });
    } catch {
      return; // an array's `length` cannot become anything else: leave it
    }
    o = v as Record<string, unknown>;
  }
}

function genRecord(rnd: Rnd, leaves: readonly [string[], unknown][]): Readonly<Record<string, unknown>> {
  const record = genObject(rnd, 0, KEYS);
  for (const [path, value] of leaves) {
    if (!chance(rnd, 0.5)) continue;
    const list = Array.isArray(value) ? (value as unknown[]) : undefined;
    const sample = list === undefined ? value : list[0];
    const kind = typeof sample === 'string' ? 'string' : typeof sample === 'number' ? 'number' : typeof sample === 'boolean' ? 'boolean' : pick(rnd, ['string', 'number', 'boolean'] as const);
    const v = chance(rnd, 0.6) && sample !== undefined ? (list === undefined ? value : pick(rnd, list)) : scalarOf(rnd, kind);
    plant(rnd, record, path, chance(rnd, 0.9) ? v : genValue(rnd, 2));
  }
  const r = rnd();
  // As upstream responses arrive: parsed JSON (own `__proto__` keys stay own data properties).
  if (r < 0.3) return JSON.parse(JSON.stringify(record)) as Record<string, unknown>;
  if (r < 0.4) {
    // Big numbers kept raw, as a parser that preserves precision would.
    return JSON.parse(JSON.stringify(record), (_k, v: unknown, ctx?: { source?: string }) =>
      typeof v === 'number' && (ctx?.source ?? '').length > 15 ? rawJSON(ctx!.source!) : v) as Record<string, unknown>;
  }
  return record;
}

/** true / false, or the error message when evaluation threw. */
function outcome(p: RowPredicate, record: unknown): boolean | string {
  try {
    return p(record as Readonly<Record<string, unknown>>);
  } catch (e) {
    return `throws: ${(e as Error).message}`;
  }
}

function show(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => (typeof x === 'number' && !Number.isFinite(x) ? String(x) : x === undefined ? '<undefined>' : Object.is(x, -0) ? '-0' : x));
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------
const CONDITIONS = 3000;
const RECORDS_PER_CONDITION = 25;
const BASE_SEED = 0x5eed_0000;

t.test('compiled predicate = ucast reference on random conditions and records', async (t) => {
  const mismatches: string[] = [];
  let valid = 0;
  let refused = 0;
  let evaluations = 0;
  let kept = 0;
  const leafOps = new Map<string, { true: number; false: number }>();
  for (let i = 0; i < CONDITIONS; i++) {
    const seed = BASE_SEED + i;
    const rnd = seededRandom(seed);
    const cond = genCondition(rnd, 0) as UcastCondition;
    const want = reference.compileRowCondition(cond);
    const got = compileRowCondition(cond);
    if (isRefusal(want) || isRefusal(got)) {
      refused++;
      if (!isRefusal(want) || !isRefusal(got) || want.code !== got.code || want.detail !== got.detail) {
        mismatches.push(`seed ${seed}: refusal differs: want ${show(isRefusal(want) ? want.detail : 'predicate')}, got ${show(isRefusal(got) ? got.detail : 'predicate')} for ${show(cond)}`);
      }
      continue;
    }
    valid++;
    const leaves = leavesOf(cond);
    const single = (cond as { type?: unknown }).type === 'field' ? (cond as { operator: string }).operator : undefined;
    for (let j = 0; j < RECORDS_PER_CONDITION; j++) {
      const record = genRecord(rnd, leaves);
      const w = outcome(want, record);
      const g = outcome(got, record);
      evaluations++;
      if (g === true) kept++;
      if (single !== undefined && typeof w === 'boolean') {
        const c = leafOps.get(single) ?? { true: 0, false: 0 };
        c[w ? 'true' : 'false']++;
        leafOps.set(single, c);
      }
      if (w !== g) mismatches.push(`seed ${seed}, record ${j}: want ${show(w)}, got ${show(g)} for ${show(cond)} on ${show(record)}`);
    }
  }
  t.same(mismatches.slice(0, 10), [], `no mismatches (${mismatches.length} in all)`);
  t.ok(valid >= 2000, `at least 2000 valid conditions (${valid}, plus ${refused} refused)`);
  t.ok(refused > 0, 'some refusals compared');
  // The generator must not be degenerate: both answers occur overall and for every field operator.
  t.ok(kept > evaluations * 0.05 && kept < evaluations * 0.95, `kept ${kept} of ${evaluations}`);
  for (const op of OPS) {
    const c = leafOps.get(op);
    t.ok(c !== undefined && c.true > 20 && c.false > 20, `${op} alone: ${show(c)} true/false`);
  }
});

t.test('records that are not objects behave as before (no fields; a falsy one throws)', async (t) => {
  const conds: UcastCondition[] = [
    { type: 'field', field: 'Tenant__c', operator: 'eq', value: 'acme' },
    { type: 'field', field: 'a.b', operator: 'nin', value: ['x'] },
    { type: 'field', field: 'a.b.c', operator: 'lt', value: 3 },
    { type: 'field', field: 'length', operator: 'gte', value: 0 },
    { type: 'compound', operator: 'and', value: [] },
    { type: 'compound', operator: 'or', value: [] },
    { type: 'compound', operator: 'not', value: [{ type: 'compound', operator: 'and', value: [{ type: 'field', field: 'x', operator: 'ne', value: 1 }, { type: 'field', field: 'y', operator: 'eq', value: true }] }] },
  ];
  for (const cond of conds) {
    const want = reference.compileRowCondition(cond) as RowPredicate;
    const got = compileRowCondition(cond) as RowPredicate;
    for (const record of [null, undefined, 0, -0, '', false, Number.NaN, 'abc', 5, true, () => 1]) {
      t.equal(outcome(got, record), outcome(want, record), `${show(cond)} on ${String(record)}`);
    }
  }
});

t.test('inherited properties are never read, not even through a getter', async (t) => {
  let reads = 0;
  const proto = Object.defineProperties({}, Object.fromEntries(['Tenant__c', 'constructor', '__proto__', 'a'].map((k) => [k, { get: () => (reads++, k === 'a' ? { b: 1 } : 'acme') }])));
  const record = Object.create(proto) as Record<string, unknown>;
  for (const [field, operator, value] of [['Tenant__c', 'eq', 'acme'], ['Tenant__c', 'ne', 'x'], ['constructor', 'nin', ['x']], ['__proto__', 'eq', 'acme'], ['a.b', 'eq', 1], ['Tenant__c', 'in', ['acme', 'b', 'c']]] as const) {
    const p = compileRowCondition({ type: 'field', field, operator, value }) as RowPredicate;
    t.equal(p(record), false, `${field} ${operator}`);
  }
  t.equal(reads, 0, 'no inherited getter ran');
});

t.test('own __proto__, constructor and toString keys are ordinary fields', async (t) => {
  const record = JSON.parse('{"__proto__":"acme","constructor":5,"toString":true,"a":{"__proto__":{"b":"x"}}}') as Record<string, unknown>;
  const p = (field: string, operator: string, value: unknown): boolean => (compileRowCondition({ type: 'field', field, operator, value } as UcastCondition) as RowPredicate)(record);
  t.equal(p('__proto__', 'eq', 'acme'), true);
  t.equal(p('__proto__', 'ne', 'acme'), false);
  t.equal(p('constructor', 'gte', 5), true);
  t.equal(p('toString', 'ne', false), true);
  t.equal(p('a.__proto__.b', 'in', ['x']), true);
  t.equal(p('a.__proto__.b', 'nin', ['x']), false);
});

t.test('a __itself__ path segment is an ordinary key (documented change from @ucast/js)', async (t) => {
  // @ucast/js treats a last segment `__itself__` (and a leading `__itself__.` before one more
  // segment) as "the object itself" in eq/ne only, so eq/ne disagreed with in/nin there and
  // `ne` could be TRUE on an equal value. The compiled predicate reads an own key, as in/nin did.
  const cases: [string, string, unknown, Record<string, unknown>, boolean, boolean][] = [
    // field, operator, value, record, now, @ucast/js before
    ['x.__itself__', 'eq', 'v', { x: { __itself__: 'v' } }, true, false],
    ['x.__itself__', 'ne', 'v', { x: { __itself__: 'v' } }, false, true],
    ['x.__itself__', 'in', ['v'], { x: { __itself__: 'v' } }, true, true],
    ['__itself__.y', 'ne', 'v', { __itself__: { y: 'v' }, y: 'w' }, false, true],
    ['__itself__.y', 'eq', 'w', { __itself__: { y: 'v' }, y: 'w' }, false, true],
    ['__itself__.y', 'eq', 'v', { __itself__: { y: 'v' }, y: 'w' }, true, false],
    ['x.__itself__', 'ne', 'v', { x: {} }, false, false],
  ];
  for (const [field, operator, value, record, now, before] of cases) {
    const cond = { type: 'field', field, operator, value } as UcastCondition;
    t.equal((compileRowCondition(cond) as RowPredicate)(record), now, `${field} ${operator} ${show(value)}: now`);
    t.equal((reference.compileRowCondition(cond) as RowPredicate)(record), before, `${field} ${operator} ${show(value)}: before`);
  }
});

t.test('lists are copied at compile time; long lists (Set) and short ones agree', async (t) => {
  const list = ['EU', 'US'];
  const p = compileRowCondition({ type: 'field', field: 'R', operator: 'in', value: list }) as RowPredicate;
  list.push('CN');
  t.equal(p({ R: 'CN' }), false, 'a later change to the policy object does not change the predicate');
  const long = Array.from({ length: 20 }, (_, i) => i * 1.5);
  const pin = compileRowCondition({ type: 'field', field: 'n', operator: 'in', value: long }) as RowPredicate;
  const pnin = compileRowCondition({ type: 'field', field: 'n', operator: 'nin', value: long }) as RowPredicate;
  t.equal(pin({ n: 3 }), true);
  t.equal(pin({ n: -0 }), true, '-0 is 0');
  t.equal(pin({ n: 4 }), false);
  t.equal(pnin({ n: 4 }), true);
  t.equal(pnin({ n: Number.NaN }), false, 'NaN is not comparable');
  t.equal(pnin({ n: '4' }), false, 'other type is not comparable');
  // A sparse list: holes never match; all holes behave as the empty list.
  const sparse = ['EU', , 'US'] as unknown[];
  const holes = new Array(3) as unknown[];
  for (const [value, record] of [[sparse, { R: 'US' }], [sparse, { R: undefined }], [sparse, { R: 'CN' }], [holes, { R: 'EU' }], [holes, { R: undefined }], [holes, {}]] as const) {
    for (const operator of ['in', 'nin']) {
      const cond = { type: 'field', field: 'R', operator, value } as UcastCondition;
      t.equal((compileRowCondition(cond) as RowPredicate)(record), (reference.compileRowCondition(cond) as RowPredicate)(record), `${operator} ${show(value)} on ${show(record)}`);
    }
  }
});
