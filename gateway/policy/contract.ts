/**
 * Checks a policy result against the decision contract (shared/design.md): the gateway relies on
 * this shape only. Anything else is a contract violation and the request is denied with
 * `policy.error`: a policy bug must never turn into an allow or an unfiltered response.
 */
import type { Decision, FieldRule, Reason, UcastCondition } from '../types.ts';

const FIELD_OPS = new Set(['eq', 'ne', 'in', 'nin', 'lt', 'lte', 'gt', 'gte']);
const COMPOUND_OPS = new Set(['and', 'or', 'not']);
const MAX_CONDITION_DEPTH = 16;

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function checkCondition(c: unknown, at: string, depth: number): string | undefined {
  if (depth > MAX_CONDITION_DEPTH) return `${at}: nested deeper than ${MAX_CONDITION_DEPTH}`;
  if (!isObj(c)) return `${at}: must be an object`;
  if (c.type === 'field') {
    if (typeof c.field !== 'string' || c.field === '') return `${at}.field: must be a non-empty string`;
    if (typeof c.operator !== 'string' || !FIELD_OPS.has(c.operator)) return `${at}.operator: unknown field operator ${JSON.stringify(c.operator)}`;
    if ((c.operator === 'in' || c.operator === 'nin') && !Array.isArray(c.value)) return `${at}.value: must be an array for ${c.operator}`;
    if (!('value' in c)) return `${at}.value: is required`;
    return undefined;
  }
  if (c.type === 'compound') {
    if (typeof c.operator !== 'string' || !COMPOUND_OPS.has(c.operator)) return `${at}.operator: unknown compound operator ${JSON.stringify(c.operator)}`;
    if (!Array.isArray(c.value) || c.value.length === 0) return `${at}.value: must be a non-empty array`;
    if (c.operator === 'not' && c.value.length !== 1) return `${at}.value: not takes exactly one condition`;
    for (let i = 0; i < c.value.length; i++) {
      const e = checkCondition(c.value[i], `${at}.value[${i}]`, depth + 1);
      if (e) return e;
    }
    return undefined;
  }
  return `${at}.type: must be "field" or "compound"`;
}

function checkFieldRule(r: unknown, at: string): string | undefined {
  if (!isObj(r)) return `${at}: must be an object`;
  const keys = Object.keys(r);
  if (keys.length !== 1) return `${at}: must have exactly one of remove, replace`;
  if (isObj(r.remove) && Object.keys(r.remove).length === 0) return undefined;
  if (isObj(r.replace) && 'value' in r.replace && Object.keys(r.replace).length === 1) return undefined;
  return `${at}: must be {"remove":{}} or {"replace":{"value":…}}`;
}

/** Returns the decision, or a string saying the first way the result breaks the contract. */
export function checkDecision(result: unknown): Decision | string {
  if (!isObj(result)) return 'decision: must be an object (is the entrypoint defined for this input?)';
  if (typeof result.allow !== 'boolean') return 'decision.allow: must be a boolean';
  if (!Array.isArray(result.reasons)) return 'decision.reasons: must be an array';
  const reasons: Reason[] = [];
  for (let i = 0; i < result.reasons.length; i++) {
    const r: unknown = result.reasons[i];
    if (!isObj(r) || typeof r.code !== 'string' || !/^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$/.test(r.code) || typeof r.message !== 'string') {
      return `decision.reasons[${i}]: must be {code: dotted string, message: string}`;
    }
    reasons.push({ code: r.code, message: r.message });
  }
  if (!result.allow && reasons.length === 0) return 'decision.reasons: must not be empty when allow is false';
  const ob = result.obligations ?? {};
  if (!isObj(ob)) return 'decision.obligations: must be an object';
  for (const k of Object.keys(ob)) if (k !== 'rows' && k !== 'fields') return `decision.obligations.${k}: unknown obligation`;
  if (ob.rows !== undefined) {
    const e = checkCondition(ob.rows, 'decision.obligations.rows', 0);
    if (e) return e;
  }
  if (ob.fields !== undefined) {
    if (!isObj(ob.fields)) return 'decision.obligations.fields: must be an object';
    for (const [obj, rules] of Object.entries(ob.fields)) {
      if (!isObj(rules)) return `decision.obligations.fields.${obj}: must be an object`;
      for (const [field, rule] of Object.entries(rules)) {
        const e = checkFieldRule(rule, `decision.obligations.fields.${obj}.${field}`);
        if (e) return e;
      }
    }
  }
  const obligations: { rows?: UcastCondition; fields?: Record<string, Record<string, FieldRule>> } = {};
  if (ob.rows !== undefined) obligations.rows = ob.rows as UcastCondition;
  if (ob.fields !== undefined) obligations.fields = ob.fields as Record<string, Record<string, FieldRule>>;
  return { allow: result.allow, reasons, obligations };
}
