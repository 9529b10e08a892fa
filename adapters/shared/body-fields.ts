/**
 * Decision-relevant body fields of a write (a Quote's Discount, a record's Tenant__c): the
 * policy gets these few values, never the whole body. Shared by the adapters.
 */
import { refuse } from '../../gateway/errors.ts';
import type { Refusal } from '../../gateway/types.ts';
import { isRawJson } from '../../gateway/json/exact-numbers.ts';

/** `"*"` → fields picked for every object; `"<Object>"` → extra fields for that object. */
export type BodyFieldsOption = Readonly<Record<string, readonly string[]>>;

/**
 * Validate a `bodyFields` option; throws an Error whose message starts with the offending key.
 * Returns a frozen copy.
 */
export function validateBodyFields(value: unknown, key: string): BodyFieldsOption {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error(`${key}: must be an object of field-name arrays`);
  const out: Record<string, readonly string[]> = {};
  for (const [object, names] of Object.entries(value)) {
    const at = `${key}[${JSON.stringify(object)}]`;
    if (object === '') throw new Error(`${at}: object name must not be empty`);
    if (!Array.isArray(names) || !names.every((n) => typeof n === 'string' && n !== '')) {
      throw new Error(`${at}: must be an array of non-empty field names`);
    }
    out[object] = Object.freeze([...new Set(names as string[])]);
  }
  return Object.freeze(out);
}

/** The field names to pick for `object`: the `"*"` list plus the object's own. */
export function bodyFieldsFor(option: BodyFieldsOption, object: string, ignoreCase: boolean): readonly string[] {
  const own = Object.hasOwn(option, object)
    ? option[object]
    : ignoreCase
      ? Object.entries(option).find(([k]) => k !== '*' && k.toLowerCase() === object.toLowerCase())?.[1]
      : undefined;
  return [...new Set([...(option['*'] ?? []), ...(own ?? [])])];
}

/**
 * Pick `names` from a write body, keyed by the configured spelling. The body must be a JSON
 * object (else GW_ERR_REQ_BODY_INVALID). With `ignoreCase` (APIs such as Salesforce that
 * accept `discount` for `Discount`), a key is matched in any case, and two keys naming the same
 * field in different cases are refused: the policy and the upstream could read different ones.
 */
export function pickBodyFields(body: unknown, names: readonly string[], ignoreCase: boolean): Record<string, unknown> | Refusal {
  if (body === null || typeof body !== 'object' || Array.isArray(body) || Object.getPrototypeOf(body) === null) {
    // a null-prototype object is a JSON.rawJSON number, not a JSON object
    return refuse('GW_ERR_REQ_BODY_INVALID', 'a write body must be a JSON object');
  }
  const rec = body as Record<string, unknown>;
  const out: [string, unknown][] = [];
  for (const name of names) {
    if (!ignoreCase) {
      if (Object.hasOwn(rec, name)) out.push([name, rec[name]]);
      continue;
    }
    const lower = name.toLowerCase();
    const keys = Object.keys(rec).filter((k) => k.toLowerCase() === lower);
    if (keys.length > 1) return refuse('GW_ERR_REQ_BODY_INVALID', `field ${name} appears more than once (${keys.join(', ')})`);
    const k = keys[0];
    if (k !== undefined) out.push([name, rec[k]]);
  }
  for (const [name, value] of out) {
    // The policy input and the decision log must carry the value the upstream will read; a
    // number a JS number cannot hold exactly would be judged (and replayed) as another value.
    if (holdsInexactNumber(value)) return refuse('GW_ERR_REQ_BODY_INVALID', `field ${name} holds a number that cannot be represented exactly`);
  }
  return Object.fromEntries(out);
}

function holdsInexactNumber(v: unknown): boolean {
  if (isRawJson(v)) return true;
  if (v !== null && typeof v === 'object') return Object.values(v as Record<string, unknown>).some(holdsInexactNumber);
  return false;
}
