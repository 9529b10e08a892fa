/**
 * Field rules: the policy's column masks (`replace`, OPA's shape) and removals applied to one
 * record. Pure: the input record is not modified.
 */
import type { FieldRule, Obligations } from '../types.ts';

/** field name → rule, for one object type. */
export type FieldRules = Readonly<Record<string, FieldRule>>;

export type FieldMatchOptions = {
  /**
   * Match object types and field names case-insensitively. Salesforce API names are
   * case-insensitive, so a rule for `SSN__c` must also catch a key spelled `ssn__c`.
   */
  readonly ignoreCase?: boolean;
};

export type FieldsApplied = {
  readonly record: Record<string, unknown>;
  /** Rule names (as the policy spells them) of fields present and replaced, in record order. */
  readonly masked: readonly string[];
  /** Rule names of fields present and removed, in record order. */
  readonly removed: readonly string[];
};

/** Salesforce per-record metadata (type, url): never a data field, never masked. */
const METADATA_KEY = 'attributes';

/** The rules for one object type, or undefined when the policy has none for it. */
export function rulesFor(fields: Obligations['fields'], objectType: string, opts: FieldMatchOptions = {}): FieldRules | undefined {
  if (fields === undefined) return undefined;
  if (Object.hasOwn(fields, objectType)) return fields[objectType];
  if (!opts.ignoreCase) return undefined;
  const want = objectType.toLowerCase();
  for (const [type, rules] of Object.entries(fields)) if (type.toLowerCase() === want) return rules;
  return undefined;
}

/**
 * Apply field rules to one record: `remove` deletes the key, `replace` sets its value. A rule
 * that is not a well-formed `replace` (e.g. `{replace: {}}` without a value, or an unknown
 * shape) removes the field: a malformed mask must not reveal the value. Only fields present in
 * the record are reported. The `attributes` key is never touched.
 */
export function applyFieldRules(record: Readonly<Record<string, unknown>>, rules: FieldRules | undefined, opts: FieldMatchOptions = {}): FieldsApplied {
  if (rules === undefined) return { record: { ...record }, masked: [], removed: [] };
  const lookup = ruleLookup(rules, opts.ignoreCase === true);
  const entries: [string, unknown][] = [];
  const masked: string[] = [];
  const removed: string[] = [];
  for (const [key, value] of Object.entries(record)) {
    const hit = key === METADATA_KEY ? undefined : lookup(key);
    if (hit === undefined) {
      entries.push([key, value]);
      continue;
    }
    const [name, rule] = hit;
    const replacement = replacementOf(rule);
    if (replacement === undefined) {
      removed.push(name);
    } else {
      entries.push([key, replacement.value]);
      masked.push(name);
    }
  }
  // fromEntries defines own properties, so a key such as "__proto__" stays data.
  return { record: Object.fromEntries(entries), masked, removed };
}

function replacementOf(rule: unknown): { value: unknown } | undefined {
  if (rule === null || typeof rule !== 'object' || !Object.hasOwn(rule, 'replace')) return undefined;
  const r = (rule as { replace: unknown }).replace;
  if (r === null || typeof r !== 'object' || !Object.hasOwn(r, 'value')) return undefined;
  return { value: (r as { value: unknown }).value };
}

function ruleLookup(rules: FieldRules, ignoreCase: boolean): (key: string) => [string, FieldRule] | undefined {
  if (!ignoreCase) {
    return (key) => (Object.hasOwn(rules, key) ? [key, rules[key] as FieldRule] : undefined);
  }
  const byLower = new Map<string, [string, FieldRule]>();
  for (const [name, rule] of Object.entries(rules)) {
    const k = name.toLowerCase();
    const prev = byLower.get(k);
    // Two rules differing only by case: the one that removes wins (fail closed).
    if (prev === undefined || replacementOf(prev[1]) !== undefined) byLower.set(k, [name, rule]);
  }
  return (key) => byLower.get(key.toLowerCase());
}
