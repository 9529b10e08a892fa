/**
 * Row-condition fields a request's explicit field list leaves out. Pure.
 */
import type { UcastCondition } from '../types.ts';

/** Fields a UCAST row condition reads. */
export function conditionFields(c: UcastCondition | undefined, out: Set<string> = new Set()): Set<string> {
  if (!c) return out;
  if (c.type === 'field') out.add(c.field);
  else for (const v of c.value) conditionFields(v, out);
  return out;
}

/**
 * Row-condition fields that `fields` (a SOQL SELECT list, `?fields=`) does not name, compared
 * case-insensitively as Salesforce names are; [] when the request names no fields (all of them).
 * Without these every row would be dropped and the client would see an empty answer with no
 * reason; the gateway answers 400 naming them instead.
 */
export function rowFieldsMissing(rows: UcastCondition | undefined, fields: readonly string[] | undefined): string[] {
  if (!rows || fields === undefined) return [];
  const have = new Set(fields.map((f) => f.toLowerCase()));
  return [...conditionFields(rows)].filter((f) => !have.has(f.toLowerCase())).sort();
}
