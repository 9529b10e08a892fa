/**
 * Row conditions: a policy's UCAST condition (the shape of OPA's compile API) compiled once per
 * decision into a predicate over plain records: a tree of plain closures built at compile time
 * (no per-record interpretation, no eval). The semantics are those @ucast/js gave with the
 * overrides this module used to install (a differential test keeps that implementation as its
 * reference).
 *
 * Fail-closed semantics (SQL's three-valued logic, not MongoDB's): a comparison is UNKNOWN
 * when the record's field is missing, null, not a scalar (object, array, a raw big number), a
 * non-finite number or of another type than the policy's value (for `in`/`nin`: the type of the
 * list's first element), and a record is kept only when the whole condition is TRUE. So a record
 * without `Region__c` satisfies neither `Region__c eq "EU"` nor `Region__c ne "CN"` nor
 * `Region__c nin ["CN"]`, and not even `not(Region__c eq "CN")`: negations are pushed down to
 * the leaves at compile time (not(eq) → ne, not(lt) → gte, De Morgan for and/or), which under
 * these leaf semantics is exactly three-valued NOT. An empty `and` is TRUE, an empty `or` FALSE.
 * A consequence: a condition can never select rows by a field's absence (null never matches).
 *
 * Comparable values compare as @ucast/js does for same-typed scalars: `eq`/`ne`/`in`/`nin` by
 * `===`, `lt`/`lte`/`gt`/`gte` by JS `<`/`<=`/`>`/`>=` (strings by UTF-16 code units). Arrays
 * are values, never "any element matches". Only own properties are read (checked before the
 * read), so a field named `constructor`, `toString` or `__proto__` never reads the prototype. A
 * dotted field `a.b.c` walks own properties segment by segment (`a`, then `b` of that object,
 * ...); a segment may be an array index or an array's `length`. A record that is not an object
 * has no fields (but a falsy one is an error, as it was with @ucast/js; callers pass objects).
 */
import { refuse } from '../errors.ts';
import type { Refusal, UcastCondition } from '../types.ts';

/** A compiled row condition: true when the record may be shown. */
export type RowPredicate = (record: Readonly<Record<string, unknown>>) => boolean;

type FieldOp = 'eq' | 'ne' | 'in' | 'nin' | 'lt' | 'lte' | 'gt' | 'gte';
type Scalar = string | number | boolean;
type Rec = Readonly<Record<string, unknown>>;
/** A compiled node; the root is the predicate itself (each leaf checks the record is an object). */
type Test = (record: Rec) => boolean;
/** A compiled comparison on the field's value (undefined when the field is absent). */
type ValueTest = (v: unknown) => boolean;

/** A validated condition in negation normal form. */
type Node =
  | { readonly kind: 'field'; readonly op: FieldOp; readonly field: string; readonly path: readonly string[]; readonly value: unknown }
  | { readonly kind: 'and' | 'or'; readonly children: readonly Node[] };

/**
 * @ucast/core's ITSELF ("the value itself"): still refused as a whole field name, as before. As a
 * segment of a dotted path it is an ordinary own key, like any other.
 */
const ITSELF = '__itself__';

const FIELD_OPS: ReadonlySet<string> = new Set<FieldOp>(['eq', 'ne', 'in', 'nin', 'lt', 'lte', 'gt', 'gte']);
const LIST_OPS: ReadonlySet<string> = new Set(['in', 'nin']);
const ORDER_OPS: ReadonlySet<string> = new Set(['lt', 'lte', 'gt', 'gte']);

/** The operator that is TRUE exactly when `op` is FALSE on a comparable value. */
const COMPLEMENT: Readonly<Record<FieldOp, FieldOp>> = {
  eq: 'ne', ne: 'eq', in: 'nin', nin: 'in', lt: 'gte', gte: 'lt', gt: 'lte', lte: 'gt',
};

/** Lists longer than this are looked up in a Set; shorter ones by a linear `===` scan. */
const SET_THRESHOLD = 8;

/**
 * Whether `key` is an own property of `object` (never an inherited one: a field named
 * `constructor`, `toString` or `__proto__` is read only when the record itself has it). Same
 * answer as Object.hasOwn; this spelling is the faster one in V8 when the key varies.
 */
function own(object: object, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(object, key);
}

function isScalar(v: unknown): v is Scalar {
  return typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v));
}

/**
 * Compile a row condition. `undefined` (no row obligation) keeps every row. An invalid
 * condition (unknown operator, wrong value type, `not` without exactly one operand) is a
 * GW_ERR_POLICY_ERROR refusal here, never an exception while filtering.
 */
export function compileRowCondition(condition: UcastCondition | undefined): RowPredicate | Refusal {
  if (condition === undefined) return () => true;
  const built = build(condition as unknown, false, 'rows');
  if (typeof built === 'string') return refuse('GW_ERR_POLICY_ERROR', `row condition ${built}`);
  return compileNode(built);
}

function compileNode(node: Node): Test {
  if (node.kind === 'field') return compileField(node);
  const children = node.children.map(compileNode);
  if (node.kind === 'and') {
    if (children.length === 0) return () => true;
    if (children.length === 1) return children[0]!;
    if (children.length === 2) {
      const [a, b] = children as [Test, Test];
      return (r) => a(r) && b(r);
    }
    return (r) => {
      for (let i = 0; i < children.length; i++) if (!children[i]!(r)) return false;
      return true;
    };
  }
  if (children.length === 0) return () => false;
  if (children.length === 1) return children[0]!;
  if (children.length === 2) {
    const [a, b] = children as [Test, Test];
    return (r) => a(r) || b(r);
  }
  return (r) => {
    for (let i = 0; i < children.length; i++) if (children[i]!(r)) return true;
    return false;
  };
}

/**
 * Callers pass JSON objects; a record that is not an object has no fields, so the comparison is
 * UNKNOWN. As with @ucast/js, a falsy record (null, undefined, 0, "") is an error instead.
 */
function notAnObject(record: unknown, field: string): false {
  if (!record) throw new Error(`Unable to get field "${field}" out of ${String(record)}.`);
  return false;
}

/**
 * A field comparison: own-property lookup of the path, then the value test. Each leaf checks
 * that the record is an object (so the predicate needs no wrapper closure). The frequent tests on
 * a top-level field are written out so such a leaf is a single closure call.
 */
function compileField(node: Extract<Node, { kind: 'field' }>): Test {
  const { path, field } = node;
  let { op, value } = node;
  if ((op === 'in' || op === 'nin') && (value as readonly Scalar[]).length === 1 && (value as readonly Scalar[])[0] !== undefined) {
    // A one-element list is eq/ne on its element (the type of the list is the type of that element).
    value = (value as readonly Scalar[])[0];
    op = op === 'in' ? 'eq' : 'ne';
  }
  if (path.length === 1) {
    const k = path[0]!;
    if (op === 'eq' || (op === 'ne' && typeof value === 'boolean')) {
      const x = op === 'eq' ? value : !value;
      return (r) => (typeof r !== 'object' || r === null ? notAnObject(r, field) : own(r, k) && r[k] === x);
    }
    if (op === 'ne' && typeof value === 'string') {
      return (r) => {
        if (typeof r !== 'object' || r === null) return notAnObject(r, field);
        if (!own(r, k)) return false;
        const v = r[k];
        return typeof v === 'string' && v !== value;
      };
    }
    const test = valueTest(op, value);
    return (r) => (typeof r !== 'object' || r === null ? notAnObject(r, field) : own(r, k) && test(r[k]));
  }
  const test = valueTest(op, value);
  if (path.length === 2) {
    const [k0, k1] = path as [string, string];
    return (r) => {
      if (typeof r !== 'object' || r === null) return notAnObject(r, field);
      if (!own(r, k0)) return false;
      const o = r[k0];
      return typeof o === 'object' && o !== null && own(o, k1) && test((o as Rec)[k1]);
    };
  }
  return (r) => {
    if (typeof r !== 'object' || r === null) return notAnObject(r, field);
    let o: unknown = r;
    for (let i = 0; i < path.length; i++) {
      const k = path[i]!;
      if (typeof o !== 'object' || o === null || !own(o, k)) return false;
      o = (o as Rec)[k];
    }
    return test(o);
  };
}

/**
 * The comparison of a leaf, on the record's value `v` (undefined when absent). Validation has
 * made `value` a scalar (finite when a number; a string or number for the order operators) or,
 * for in/nin, a list of scalars of one type. A test is TRUE only on a comparable `v`: for eq and
 * in that is implied by `===` with a scalar of the policy's type.
 */
function valueTest(op: FieldOp, value: unknown): ValueTest {
  if (op === 'in' || op === 'nin') return listTest(op === 'in', value as readonly Scalar[]);
  const x = value as Scalar;
  if (op === 'eq') return (v) => v === x;
  if (typeof x === 'boolean') {
    // Only ne reaches here with a boolean (the order operators refuse it): the other boolean.
    const y = !x;
    return (v) => v === y;
  }
  if (typeof x === 'string') {
    switch (op) {
      case 'ne': return (v) => typeof v === 'string' && v !== x;
      case 'lt': return (v) => typeof v === 'string' && v < x;
      case 'lte': return (v) => typeof v === 'string' && v <= x;
      case 'gt': return (v) => typeof v === 'string' && v > x;
      case 'gte': return (v) => typeof v === 'string' && v >= x;
    }
  }
  // A finite number: Number.isFinite(v) is false for NaN, ±Infinity and every non-number.
  switch (op) {
    case 'ne': return (v) => Number.isFinite(v) && v !== x;
    case 'lt': return (v) => Number.isFinite(v) && (v as number) < x;
    case 'lte': return (v) => Number.isFinite(v) && (v as number) <= x;
    case 'gt': return (v) => Number.isFinite(v) && (v as number) > x;
    default: return (v) => Number.isFinite(v) && (v as number) >= x;
  }
}

function listTest(isIn: boolean, list: readonly Scalar[]): ValueTest {
  // Copied (a later change to the policy object cannot change the predicate). `filter` drops the
  // holes of a sparse list, which could never equal a scalar; validation refuses a list whose
  // first element is a hole unless all are holes, which then behaves as the empty list.
  const items = list.filter(() => true);
  const first = items[0];
  if (first === undefined) return isIn ? () => false : isScalar; // the type of no element: any scalar
  if (items.length === 1) return isIn ? (v) => v === first : valueTest('ne', first);
  const comparable: ValueTest =
    typeof first === 'string' ? (v) => typeof v === 'string' : typeof first === 'number' ? Number.isFinite : (v) => typeof v === 'boolean';
  if (items.length <= SET_THRESHOLD) {
    const has: ValueTest = (v) => {
      for (let i = 0; i < items.length; i++) if (items[i] === v) return true;
      return false;
    };
    return isIn ? has : (v) => comparable(v) && !has(v);
  }
  // A Set's SameValueZero is === on these values (finite numbers: no NaN; 0 and -0 are equal).
  const set: ReadonlySet<unknown> = new Set(items);
  return isIn ? (v) => set.has(v) : (v) => comparable(v) && !set.has(v);
}

/** Validate one node and build it in negation normal form. */
function build(node: unknown, negate: boolean, at: string): Node | string {
  if (node === null || typeof node !== 'object' || Array.isArray(node)) return `${at}: must be an object`;
  const { type, operator, value, field } = node as Record<string, unknown>;
  if (type === 'field') {
    if (typeof operator !== 'string' || !FIELD_OPS.has(operator)) return `${at}.operator: unknown operator ${JSON.stringify(operator)}`;
    if (typeof field !== 'string' || field === '' || field === ITSELF || field.split('.').includes('')) {
      return `${at}.field: must be a non-empty field name or dotted path`;
    }
    const bad = checkValue(operator, value);
    if (bad !== undefined) return `${at}.value: ${bad}`;
    const op = negate ? COMPLEMENT[operator as FieldOp] : (operator as FieldOp);
    return { kind: 'field', op, field, path: field.split('.'), value };
  }
  if (type === 'compound') {
    if (operator !== 'and' && operator !== 'or' && operator !== 'not') return `${at}.operator: unknown operator ${JSON.stringify(operator)}`;
    if (!Array.isArray(value)) return `${at}.value: must be an array of conditions`;
    if (operator === 'not') {
      // @ucast/js's own `not` silently ignores all but the first operand.
      if (value.length !== 1) return `${at}.value: not takes exactly one condition`;
      return build(value[0], !negate, `${at}.value[0]`);
    }
    const children: Node[] = [];
    for (const [i, child] of value.entries()) {
      const c = build(child, negate, `${at}.value[${i}]`);
      if (typeof c === 'string') return c;
      children.push(c);
    }
    // De Morgan when negated; an empty `and` is TRUE and an empty `or` FALSE, as in logic.
    return { kind: (operator === 'and') !== negate ? 'and' : 'or', children };
  }
  return `${at}.type: must be "field" or "compound"`;
}

function checkValue(operator: string, value: unknown): string | undefined {
  if (LIST_OPS.has(operator)) {
    if (!Array.isArray(value)) return `${operator} needs an array`;
    if (!value.every(isScalar)) return `${operator} needs strings, numbers or booleans`;
    const first: unknown = value[0];
    if (!value.every((v) => typeof v === typeof first)) return `${operator} needs values of one type`;
    return undefined;
  }
  if (ORDER_OPS.has(operator)) {
    return typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value)) ? undefined : `${operator} needs a string or a number`;
  }
  return isScalar(value) ? undefined : `${operator} needs a string, number or boolean (null never matches)`;
}
