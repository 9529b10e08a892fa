/**
 * Row conditions: a policy's UCAST condition (the shape of OPA's compile API) compiled once per
 * decision into a predicate over plain records, evaluated by @ucast/js.
 *
 * Fail-closed semantics (SQL's three-valued logic, not MongoDB's): a comparison is UNKNOWN
 * when the record's field is missing, null, not a scalar (object, array, a raw big number) or of
 * another type than the policy's value, and a record is kept only when the whole condition is
 * TRUE. So a record without `Region__c` satisfies neither `Region__c eq "EU"` nor
 * `Region__c ne "CN"` nor `Region__c nin ["CN"]`, and not even `not(Region__c eq "CN")`:
 * negations are pushed down to the leaves at compile time (not(eq) → ne, not(lt) → gte,
 * De Morgan for and/or), which under these leaf semantics is exactly three-valued NOT.
 * A consequence: a condition can never select rows by a field's absence (null never matches).
 *
 * @ucast/js's defaults are MongoDB-like and unsafe here: `ne`/`nin` are true for a missing
 * field, `eq null` matches a missing field, arrays match when any element does, and its default
 * getter reads inherited properties (`constructor`). Those are overridden below.
 */
import { CompoundCondition, FieldCondition, ITSELF, type Condition } from '@ucast/core';
import { and, createJsInterpreter, eq, gt, gte, lt, lte, ne, nin, or, within, type JsInterpreter } from '@ucast/js';
import { refuse } from '../errors.ts';
import type { Refusal, UcastCondition } from '../types.ts';

/** A compiled row condition: true when the record may be shown. */
export type RowPredicate = (record: Readonly<Record<string, unknown>>) => boolean;

type FieldOp = 'eq' | 'ne' | 'in' | 'nin' | 'lt' | 'lte' | 'gt' | 'gte';
type Scalar = string | number | boolean;

const FIELD_OPS: ReadonlySet<string> = new Set<FieldOp>(['eq', 'ne', 'in', 'nin', 'lt', 'lte', 'gt', 'gte']);
const LIST_OPS: ReadonlySet<string> = new Set(['in', 'nin']);
const ORDER_OPS: ReadonlySet<string> = new Set(['lt', 'lte', 'gt', 'gte']);

/** The operator that is TRUE exactly when `op` is FALSE on a comparable value. */
const COMPLEMENT: Readonly<Record<FieldOp, FieldOp>> = {
  eq: 'ne', ne: 'eq', in: 'nin', nin: 'in', lt: 'gte', gte: 'lt', gt: 'lte', lte: 'gt',
};

/** Only own properties: a policy field named `constructor` must not read Object.prototype. */
function ownGet(object: unknown, key: string): unknown {
  if (object === null || typeof object !== 'object') return undefined;
  return Object.hasOwn(object, key) ? (object as Record<string, unknown>)[key] : undefined;
}

function isScalar(v: unknown): v is Scalar {
  return typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v));
}

/**
 * Wrap a @ucast/js field interpreter so it only runs on a comparable record value; anything
 * else is UNKNOWN, i.e. false (see the module comment). Compile-time validation guarantees the
 * node's value is a scalar, or a list of scalars of one type.
 */
function guarded(op: JsInterpreter<FieldCondition<never>>, list: boolean): JsInterpreter<FieldCondition<unknown>> {
  return (node, record, ctx) => {
    const v: unknown = ctx.get(record, node.field);
    if (!isScalar(v)) return false;
    if (list) {
      const items = node.value as readonly Scalar[];
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
  // Arrays are values, not "any element matches": isArray off disables MongoDB array semantics.
  { get: ownGet, isArray: () => false },
);

/**
 * Compile a row condition. `undefined` (no row obligation) keeps every row. An invalid
 * condition (unknown operator, wrong value type, `not` without exactly one operand) is a
 * GW_ERR_POLICY_ERROR refusal here, never an exception while filtering.
 */
export function compileRowCondition(condition: UcastCondition | undefined): RowPredicate | Refusal {
  if (condition === undefined) return () => true;
  const built = build(condition as unknown, false, 'rows');
  if (typeof built === 'string') return refuse('GW_ERR_POLICY_ERROR', `row condition ${built}`);
  return (record) => interpret(built, record) === true;
}

/** Validate one node and build its @ucast/core instance in negation normal form. */
function build(node: unknown, negate: boolean, at: string): Condition | string {
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
    return new FieldCondition(op, field, value);
  }
  if (type === 'compound') {
    if (operator !== 'and' && operator !== 'or' && operator !== 'not') return `${at}.operator: unknown operator ${JSON.stringify(operator)}`;
    if (!Array.isArray(value)) return `${at}.value: must be an array of conditions`;
    if (operator === 'not') {
      // @ucast/js's own `not` silently ignores all but the first operand.
      if (value.length !== 1) return `${at}.value: not takes exactly one condition`;
      return build(value[0], !negate, `${at}.value[0]`);
    }
    const children: Condition[] = [];
    for (const [i, child] of value.entries()) {
      const c = build(child, negate, `${at}.value[${i}]`);
      if (typeof c === 'string') return c;
      children.push(c);
    }
    // De Morgan when negated; an empty `and` is TRUE and an empty `or` FALSE, as in logic.
    const op = (operator === 'and') !== negate ? 'and' : 'or';
    return new CompoundCondition(op, children);
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
